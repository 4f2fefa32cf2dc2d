"""Long-running jobs (docs/jobs.md): what the API and the invoker share -- the job's
identity and URL, its per-attempt bearer tokens, and its state as stored (the state
transitions themselves are the ``job_*.lua`` scripts, run through ``app.store.jobs``)."""

from app.jobs.state import JobState, WatchStep, watch_step
from app.jobs.tokens import JobRef, JobToken, mint_token, parse_token, token_hash

__all__ = [
    "JobRef",
    "JobState",
    "JobToken",
    "WatchStep",
    "mint_token",
    "parse_token",
    "token_hash",
    "watch_step",
]
