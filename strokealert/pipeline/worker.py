"""What every analysis worker process needs, whichever executor feeds it: one database session
factory per URL, and the analysis stacks (perfusion, LVO with its model loaded, NCCT) imported
before the first job."""

from __future__ import annotations

import logging
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from strokealert import db

log = logging.getLogger(__name__)


@lru_cache(maxsize=4)
def session_factory_for(url: str) -> sessionmaker[Session]:
    """One engine and session factory per database URL per process."""
    return db.make_session_factory(db.make_engine(url))


def warm_up() -> None:
    """Import the analysis stacks (and load the LVO model) before the first study arrives."""
    try:
        import perfusion  # noqa: F401
        from strokealert import lvo, ncct  # noqa: F401

        lvo.load_model()
    except Exception:  # a broken stack shows up as a failed job with its reason, not here
        log.exception("warm-up of the analysis stacks failed")
