"""The funds' position: income and expenditure by month, months payable and their warning bands, and the
settlement breakdowns the bureau watches — a pure core (``core``) and the readers of stored data (``data``)."""
