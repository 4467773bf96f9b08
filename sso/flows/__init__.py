"""Sign-on flows: the pluggable protocol layer and the jump / service-initiated views."""

from .multipass import MultipassProtocol
from .protocol import SignOnProtocol

__all__ = ["MultipassProtocol", "SignOnProtocol"]
