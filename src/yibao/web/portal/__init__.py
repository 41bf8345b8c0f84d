"""The insured person's pages (参保人服务门户): know, choose, supervise, be heard."""
