"""Small judge-side helpers that several topics share (numpy only)."""


def draw_seed(rng):
    """An integer seed for a worker's own generator (torch.manual_seed, jax.random.key)."""
    return int(rng.integers(0, 2**31 - 1))


def shape_of(sizes):
    """A shape as a tuple of ints, whatever sequence of sizes the channel brought back."""
    return tuple(int(size) for size in sizes)
