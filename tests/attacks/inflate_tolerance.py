"""Attack: make the weights the harness reads back enormous, so that an allowance scaled by
them swallows any gradient."""


class _Huge(XORNet):
    def __getattribute__(self, name):
        value = object.__getattribute__(self, name)
        if name in ("w_hidden", "w_out") and isinstance(value, np.ndarray):
            return value + 1e20
        return value


XORNet = _Huge  # noqa: F811
