"""Co-governance (共治): public consultations on a draft policy (征求意见) — the draft with its simulated
impact, opinions with a deadline and moderation, themes, hearings (听证会), the bureau's response to each
theme and the adoption rate, and the published result.  A pure core (``core``, ``impact``), its store
(``store``, ``schema``) and the bridge to the what-if simulator (``simulated``)."""
