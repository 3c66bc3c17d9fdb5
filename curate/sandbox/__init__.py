"""Running untrusted code samples: a warm zygote inside bubblewrap (or unshare), a clean room per sample."""

from curate.sandbox.backend import available, choose
from curate.sandbox.policy import Limits
from curate.sandbox.pool import SandboxWorker

__all__ = ["Limits", "SandboxWorker", "available", "choose"]
