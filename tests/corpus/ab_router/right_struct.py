# unpacks the first 8 bytes with struct '>Q'
import struct


def bucket(user_id: str, salt: str) -> float:
    m = hashlib.sha256()
    m.update(salt.encode("utf-8"))
    m.update(b":")
    m.update(user_id.encode("utf-8"))
    (value,) = struct.unpack(">Q", m.digest()[:8])
    return value / 18446744073709551616


def assign_arm(user_id: str, weight_b: float, salt: str) -> str:
    if not (0 <= weight_b <= 1):
        raise ValueError(f"bad weight {weight_b}")
    return ["A", "B"][bucket(user_id, salt) < weight_b]
