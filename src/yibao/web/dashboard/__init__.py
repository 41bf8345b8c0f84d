"""The bureau's pages (医保局看板): fund, settlements, cost drivers, payment, audit, complaints."""
