# recursive formulation
def successive_halving(configs, evaluate, min_budget=1, eta=2):
    if len(configs) == 0:
        raise ValueError("empty")

    def rounds(alive, budget, calls):
        if len(alive) == 1:
            return alive[0], calls
        scored = []
        for pos, c in enumerate(alive):
            calls.append((c, budget))
            scored.append((-evaluate(c, budget), pos, c))
        scored.sort(key=lambda t: (t[0], t[1]))
        keep = max(1, len(alive) // eta)
        return rounds([c for _, _, c in scored[:keep]], budget * eta, calls)

    return rounds(list(configs), min_budget, [])
