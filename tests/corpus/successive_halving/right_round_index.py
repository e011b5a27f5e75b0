# computes the budget from the round index
def successive_halving(configs, evaluate, min_budget=1, eta=2):
    alive = list(configs)
    if not alive:
        raise ValueError("configs is empty")
    calls = []
    k = 0
    while len(alive) > 1:
        b = min_budget * eta ** k
        s = [evaluate(c, b) for c in alive]
        calls.extend((c, b) for c in alive)
        ranked = sorted(zip(s, range(len(alive))), key=lambda t: t[0], reverse=True)
        # reverse=True keeps stability in Python, so equal scores stay in their current order
        alive = [alive[i] for _, i in ranked][:max(1, len(alive) // eta)]
        k += 1
    return alive[0], calls
