"""Password hashing with argon2id at OWASP's recommended strength, and refusing guessable passwords."""

from __future__ import annotations

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn

from hep.errors import Invalid

# OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_LENGTH, MAX_LENGTH = 10, 128
# zxcvbn's scores: 3 = "safely unguessable" (about 10^8 guesses and more). Its lists hold the 30,000
# commonest passwords (and names, words, keyboard patterns), so "password123" or "qwertyuiop" score 0.
MIN_SCORE = 3
ZXCVBN_MAX = 72  # zxcvbn refuses longer input; what it cannot see only adds strength


def check_strength(password: str, field: str = "password", *, user_inputs: tuple[str, ...] = ()) -> None:
    """Reject passwords that are too short, too long, or common enough to be guessed (NIST SP 800-63B 5.1.1.2).

    `user_inputs` (the person's name and e-mail, the clinic's name) count as easy to guess too.
    """
    if len(password) < MIN_LENGTH:
        raise Invalid(field, f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise Invalid(field, f"must be at most {MAX_LENGTH} characters")
    words = [word for text in user_inputs if text for word in re.split(r"[\W_]+", text.lower()) if len(word) > 2]
    verdict = zxcvbn(password[:ZXCVBN_MAX], user_inputs=words)
    if verdict["score"] < MIN_SCORE:
        why = verdict["feedback"]["warning"] or "it is a common password or pattern"
        raise Invalid(field, f"is too easy to guess: {why.rstrip('.')}. Try a few unrelated words.")


def hash_password(password: str) -> str:
    """Hash a password for storage."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Check a password; spends the same work when there is no hash, so timing reveals nothing."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False
