"""Backend `torch`: nn.Linear layers, autograd, torch.optim (SGD, momentum, Nesterov, Adam,
AdamW with harness.optim's hyperparameters). torch is imported here only."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .. import optim
from ..run import Run
from ..specs import Spec

_ACT = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "linear": torch.nn.Identity}
_DTYPE = {"float64": torch.float64, "float32": torch.float32}


def versions() -> dict:
    return {"torch": torch.__version__}


def settings() -> dict:
    return {"torch_threads": torch.get_num_threads(),
            "torch_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
            "torch_tf32_cudnn": torch.backends.cudnn.allow_tf32,
            "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
            "torch_device": "cpu"}


class _PlainSGD:
    """Plain SGD through torch.optim.sgd.sgd, the very function torch.optim.SGD.step calls with
    these arguments; the SGD class itself would import torch._dynamo on construction (about 1 s,
    more than the rest of a default check's torch work)."""

    def __init__(self, parameters, lr: float):
        self.params, self.lr = list(parameters), lr

    def zero_grad(self):
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self):
        from torch.optim.sgd import sgd
        sgd(self.params, [p.grad for p in self.params], [None] * len(self.params), weight_decay=0.0, momentum=0.0,
            lr=self.lr, dampening=0.0, nesterov=False, maximize=False, foreach=False)


def optimizer(spec: Spec, parameters):
    o, lr = spec.optimizer, spec.lr
    if o == "sgd":
        return _PlainSGD(parameters, lr)
    if o in ("momentum", "nesterov"):
        return torch.optim.SGD(parameters, lr=lr, momentum=optim.MOMENTUM, nesterov=o == "nesterov")
    if o == "adam":
        return torch.optim.Adam(parameters, lr=lr, betas=(optim.BETA1, optim.BETA2), eps=optim.EPS)
    if o == "adamw":
        return torch.optim.AdamW(parameters, lr=lr, betas=(optim.BETA1, optim.BETA2), eps=optim.EPS,
                                 weight_decay=optim.WEIGHT_DECAY)
    raise ValueError(o)


def loss_fn(spec: Spec, y, t):
    if spec.loss == "mse_mean_all":
        return F.mse_loss(y, t)
    if spec.loss == "half_sse_mean_batch":
        return 0.5 * F.mse_loss(y, t, reduction="sum") / y.shape[0]
    if spec.loss == "half_sse_sum_batch":
        return 0.5 * F.mse_loss(y, t, reduction="sum")
    if spec.loss == "softmax_ce_mean_batch":
        return F.cross_entropy(y, t.argmax(dim=1))
    raise ValueError(spec.loss)


def build(spec: Spec) -> torch.nn.Sequential:
    layers = []
    for n_in, n_out, act in zip(spec.sizes[:-1], spec.sizes[1:], spec.activations):
        layers += [torch.nn.Linear(n_in, n_out), _ACT[act]()]
    return torch.nn.Sequential(*layers).to(_DTYPE[spec.dtype])


def _linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


def _read(model) -> dict:
    out = {}
    for i, lin in enumerate(_linears(model), start=1):
        out[f"W{i}"] = lin.weight.detach().numpy().T.copy()       # torch keeps (out, in)
        out[f"b{i}"] = lin.bias.detach().numpy().copy()
    return out


def _load(model, params) -> None:
    with torch.no_grad():
        for i, lin in enumerate(_linears(model), start=1):
            lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(params[f"W{i}"].T)))
            lin.bias.copy_(torch.from_numpy(params[f"b{i}"]))


_models: dict = {}


def run(spec: Spec, params, X, T) -> Run:
    key = (spec.sizes, spec.activations, spec.dtype)
    if key not in _models:                 # built once per architecture, reloaded every run
        _models[key] = build(spec)
    model = _models[key]
    _load(model, params)
    loaded = _read(model)
    opt = optimizer(spec, model.parameters())
    Xt, Tt = torch.from_numpy(X), torch.from_numpy(T)
    for step in range(spec.steps):
        model.zero_grad(set_to_none=True)
        y = model(Xt)
        loss = loss_fn(spec, y, Tt)
        loss.backward()
        if step == 0:
            output, first_loss = y.detach().numpy().copy(), loss.detach().numpy().copy()
            grads = {}
            for i, lin in enumerate(_linears(model), start=1):
                grads[f"W{i}"] = lin.weight.grad.numpy().T.copy()
                grads[f"b{i}"] = lin.bias.grad.numpy().copy()
        opt.step()
    return Run(backend="torch", loaded=loaded, output=output, loss=first_loss, grads=grads, stepped=_read(model),
               versions=versions(), convention="torch")


class Trainer:
    """One model and optimizer kept across batches (harness train)."""

    def __init__(self, spec: Spec, params):
        self.spec, self.model = spec, build(spec)
        _load(self.model, params)
        self.opt = optimizer(spec, self.model.parameters())

    def step(self, X, T, want_output: bool = True) -> np.ndarray | None:
        self.opt.zero_grad()
        y = self.model(torch.from_numpy(X))
        loss_fn(self.spec, y, torch.from_numpy(T)).backward()
        self.opt.step()
        return y.detach().numpy() if want_output else None

    def output(self, X) -> np.ndarray:
        with torch.no_grad():
            return self.model(torch.from_numpy(X)).numpy()

    def params(self) -> dict:
        return _read(self.model)
