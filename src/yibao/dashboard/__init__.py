"""The bureau dashboard (auditors and administrators): fund income and expenditure with months payable
and alerts, settlements by scheme / level / district, top cost drivers, the complaint queue, and the pages
other capabilities fill (simulation, DRG/DIP, audit cases).  Pure aggregations in ``core``, reading the
database in ``data``, pages in ``web``."""
