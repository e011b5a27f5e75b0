# hashes salt + user_id without the ':' separator
def bucket(user_id: str, salt: str) -> float:
    """Map (salt, user_id) to a number in [0, 1), the same on every call and every machine.

    key = f"{salt}:{user_id}" encoded as UTF-8; digest = sha256(key); take the first 8 bytes of the
    digest as a big-endian unsigned integer and divide by 2**64.
    """
    digest = hashlib.sha256(f"{salt}{user_id}".encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64


def assign_arm(user_id: str, weight_b: float, salt: str) -> str:
    """"B" if bucket(user_id, salt) < weight_b else "A". weight_b outside [0, 1] -> ValueError."""
    if not 0.0 <= weight_b <= 1.0:
        raise ValueError(f"weight_b must be in [0, 1], got {weight_b}")
    return "B" if bucket(user_id, salt) < weight_b else "A"
