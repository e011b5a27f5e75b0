# adds min_budget each round instead of multiplying by eta
def successive_halving(configs: list, evaluate, min_budget: int = 1, eta: int = 2):
    """Successive halving (Jamieson & Talwalkar 2016), higher score = better.

    Round k = 0, 1, ...: budget = min_budget * eta**k; call evaluate(config, budget) once for every
    surviving config, in the survivors' current order; rank them by score, best first (a stable sort:
    equal scores keep their current order); keep the first max(1, len(survivors) // eta), in that
    ranked order. Stop as soon as one config is left (it is not evaluated again).
    Returns (best_config, calls) with calls = the list of (config, budget) pairs in call order.
    An empty configs list -> ValueError.
    """
    if not configs:
        raise ValueError("no configs to search")
    alive = list(configs)
    calls = []
    budget = min_budget
    while len(alive) > 1:
        scores = []
        for c in alive:
            calls.append((c, budget))
            scores.append(evaluate(c, budget))
        order = sorted(range(len(alive)), key=lambda i: -scores[i])
        alive = [alive[i] for i in order[:max(1, len(alive) // eta)]]
        budget += min_budget
    return alive[0], calls
