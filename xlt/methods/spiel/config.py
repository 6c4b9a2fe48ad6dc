"""SpIEL's config (``task_module=spiel_ag|spiel_ma|qspiel_*``; §7.3, hyper-parameters §7.4.3-7.4.4,
Table 7.1)."""

from __future__ import annotations

from dataclasses import dataclass, field

from xlt.config import check_choice, check_names, check_number
from xlt.errors import ConfigError
from xlt.methods.core.quantization import QUANTIZATIONS
from xlt.methods.spiel.selection import SCHEDULES
from xlt.methods.spiel.sparse_linear import GRAD_MODES
from xlt.models.loading import DTYPES


@dataclass
class SpielConfig:
    """``task_module=spiel_ag|spiel_ma`` (§7.3, hyper-parameters §7.4.3-7.4.4, Table 7.1).

    The learning rate is the task's (``task.train.lr``; conf/task_module/spiel_*.yaml set Table 7.1's);
    ``weight_decay`` is SpIEL's own decay of phi towards the pre-trained weights, applied by its optimiser,
    so the task's AdamW decay (``task.train.weight_decay``) must stay 0."""

    method: str
    rank: int | None = 64  # LoRA-rank-equivalent budget (set exactly one of rank/density/num_trainable)
    density: float | None = None
    num_trainable: int | None = None
    targets: list[str] | None = None  # default: every linear layer of the transformer blocks
    weight_decay: float = 0.0  # lambda: decoupled decay of phi towards the pre-trained weights
    interval: int = 20  # S
    window: int = 5  # gamma (gradient-estimation steps; SpIEL-MA uses it only for its update steps)
    replace_rate: float = 0.2  # xi
    schedule: str = "linear"  # or cosine (Appendix E.2)
    quantize: str | None = None  # nf4: qSpIEL (base weights NF4, deltas in values_dtype)
    values_dtype: str = "float32"  # bfloat16 for qSpIEL in the thesis
    grad_mode: str = "sparse"  # sparse: the E.4 backward; dense: X^T dY then gather (the thesis's code)
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])  # Adam (SpIEL-AG)
    eps: float = 1e-8  # Adam / SM3 epsilon
    sm3_beta: float = 0.0  # SM3's accumulator decay (0: running sums, as in the thesis)

    def validate(self, where: str = "task_module") -> None:
        given = [name for name in ("rank", "density", "num_trainable") if getattr(self, name) is not None]
        if len(given) != 1:
            raise ConfigError(f"{where}: set exactly one of rank, density, num_trainable (got {given or 'none'}; "
                              f"e.g. {where}.rank=null {where}.density=0.01)")
        check_number(self.rank, f"{where}.rank", minimum=1, integer=True, optional=True)
        check_number(self.density, f"{where}.density", above=0, maximum=1, optional=True)
        check_number(self.num_trainable, f"{where}.num_trainable", minimum=1, integer=True, optional=True)
        check_names(self.targets, f"{where}.targets")
        check_number(self.weight_decay, f"{where}.weight_decay", minimum=0)
        check_number(self.interval, f"{where}.interval", minimum=1, integer=True)
        check_number(self.window, f"{where}.window", minimum=1, maximum=self.interval, integer=True)
        check_number(self.replace_rate, f"{where}.replace_rate", minimum=0, maximum=1)
        check_choice(self.schedule, f"{where}.schedule", SCHEDULES)
        if self.quantize is not None:
            check_choice(self.quantize, f"{where}.quantize", QUANTIZATIONS)
        check_choice(self.values_dtype, f"{where}.values_dtype", sorted(DTYPES))
        check_choice(self.grad_mode, f"{where}.grad_mode", GRAD_MODES)
        if not isinstance(self.betas, list) or len(self.betas) != 2:
            raise ConfigError(f"{where}.betas={self.betas!r}: expected [beta1, beta2]")
        for i, beta in enumerate(self.betas):
            check_number(beta, f"{where}.betas[{i}]", minimum=0, below=1)
        check_number(self.eps, f"{where}.eps", above=0)
        check_number(self.sm3_beta, f"{where}.sm3_beta", minimum=0, below=1)
