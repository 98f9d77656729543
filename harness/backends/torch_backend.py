"""Backend `torch`: nn.Linear layers, autograd, torch.optim (SGD, momentum, Nesterov, Adam,
AdamW with harness.core.optim's hyperparameters). torch is imported here only."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from ..core import optim
from ..core.activations import LEAKY_SLOPE
from ..core.spec import Spec
from .base import FrameworkBackend

# One line per activation and per loss of harness.core (activations, losses).
ACTIVATIONS = {"relu": torch.nn.ReLU, "sigmoid": torch.nn.Sigmoid, "linear": torch.nn.Identity, "tanh": torch.nn.Tanh,
               "leaky_relu": lambda: torch.nn.LeakyReLU(LEAKY_SLOPE), "softmax": lambda: torch.nn.Softmax(dim=1)}
LOSSES = {
    "mse_mean_all": lambda y, t: F.mse_loss(y, t),
    "half_sse_mean_batch": lambda y, t: 0.5 * F.mse_loss(y, t, reduction="sum") / y.shape[0],
    "half_sse_sum_batch": lambda y, t: 0.5 * F.mse_loss(y, t, reduction="sum"),
    "softmax_ce_mean_batch": lambda y, t: F.cross_entropy(y, t.argmax(dim=1)),
    "sse_mean_batch": lambda y, t: F.mse_loss(y, t, reduction="sum") / y.shape[0],
    "sse_sum_batch": lambda y, t: F.mse_loss(y, t, reduction="sum"),
    "ce_probs_mean_batch": lambda y, t: -(t * torch.log(y)).sum() / y.shape[0],
    "bce_mean_batch": lambda y, t: F.binary_cross_entropy(y, t, reduction="sum") / y.shape[0],
}
_DTYPE = {"float64": torch.float64, "float32": torch.float32}


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


def _optimizer(spec: Spec, parameters):
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


def _linears(model):
    return [m for m in model if isinstance(m, torch.nn.Linear)]


class TorchBackend(FrameworkBackend):
    name = "torch"

    def versions(self) -> dict:
        return {"torch": torch.__version__}

    def settings(self) -> dict:
        return {"torch_threads": torch.get_num_threads(),
                "torch_tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
                "torch_tf32_cudnn": torch.backends.cudnn.allow_tf32,
                "torch_float32_matmul_precision": torch.get_float32_matmul_precision(),
                "torch_device": "cpu"}

    def build(self, spec: Spec) -> torch.nn.Sequential:
        layers = []
        for n_in, n_out, act in zip(spec.sizes[:-1], spec.sizes[1:], spec.activations, strict=True):
            layers += [torch.nn.Linear(n_in, n_out), ACTIVATIONS[act]()]
        return torch.nn.Sequential(*layers).to(_DTYPE[spec.dtype])

    def load(self, model, params) -> None:
        with torch.no_grad():
            for i, lin in enumerate(_linears(model), start=1):
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(params[f"W{i}"].T)))   # torch keeps (out, in)
                lin.bias.copy_(torch.from_numpy(params[f"b{i}"]))

    def read(self, model) -> dict:
        out = {}
        for i, lin in enumerate(_linears(model), start=1):
            out[f"W{i}"] = lin.weight.detach().numpy().T.copy()
            out[f"b{i}"] = lin.bias.detach().numpy().copy()
        return out

    def inputs(self, array):
        return torch.from_numpy(array)

    def forward_backward(self, spec: Spec, model, X, T):
        model.zero_grad(set_to_none=True)
        y = model(X)
        loss = LOSSES[spec.loss](y, T)
        if spec.l2:
            loss = loss + spec.l2_coefficient(len(X)) * sum(
                (p ** 2).sum() for lin in _linears(model) for p in (lin.weight, lin.bias)[:1 + spec.l2_biases])
        loss.backward()
        return y, loss, None                    # the gradients live on the parameters

    def gradients(self, model, grads) -> dict:
        out = {}
        for i, lin in enumerate(_linears(model), start=1):
            out[f"W{i}"] = lin.weight.grad.numpy().T.copy()
            out[f"b{i}"] = lin.bias.grad.numpy().copy()
        return out

    def optimizer(self, spec: Spec, model):
        return _optimizer(spec, model.parameters())

    def apply(self, opt, model, grads) -> None:
        opt.step()

    def predict(self, model, X):
        with torch.no_grad():
            return model(torch.from_numpy(X)).numpy()

    def to_numpy(self, value):
        return value.detach().numpy().copy()


def create() -> TorchBackend:
    return TorchBackend()
