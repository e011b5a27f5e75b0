# parses the first 16 hex digits of the hexdigest
def bucket(user_id: str, salt: str) -> float:
    h = hashlib.sha256((salt + ":" + user_id).encode()).hexdigest()
    return int(h[:16], 16) / float(1 << 64)


def assign_arm(user_id: str, weight_b: float, salt: str) -> str:
    if weight_b < 0 or weight_b > 1:
        raise ValueError("weight_b")
    u = bucket(user_id, salt)
    return "A" if u >= weight_b else "B"
