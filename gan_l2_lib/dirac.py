"""The Dirac-GAN (Mescheder, Geiger & Nowozin 2018): the smallest GAN, solved in closed form.

Data are a point mass δ_c, the generator is a point mass δ_θ, the discriminator is
D(x) = σ(ψx), so the whole game lives in the plane (θ, ψ). With the project's loss
convention (``losses.py``: the D loss is the plain *sum* of its two terms) and the L2
penalties of the source article:

    L_D(θ, ψ) = -log σ(ψc) - log(1 - σ(ψθ)) + λ_D ψ²
    L_G(θ, ψ) = -log σ(ψθ)                   + λ_G θ²     ("nonsaturating")
    L_G(θ, ψ) = log(1 - σ(ψθ))               + λ_G θ²     ("minimax")

Gradient descent on both losses follows the vector field v = (-∂L_G/∂θ, -∂L_D/∂ψ). With
u = ψθ and σ(-t) = 1 - σ(t):

    v_θ = ψ σ(-u) - 2λ_G θ     (nonsaturating)     v_θ = ψ σ(u) - 2λ_G θ     (minimax)
    v_ψ = c σ(-ψc) - θ σ(u) - 2λ_D ψ

"minimax" is the zero-sum game of Mescheder et al. (their f(t) = -log(1 + e^{-t})) and the
default here: without a penalty its flow keeps θ² + ψ² constant, so from any start
simultaneous steps spiral out and alternating steps circle. "nonsaturating" is the source
article's generator loss; it has the same Jacobian at the equilibrium but different global
dynamics (see ``DiracGAN``).

Jacobian at the equilibrium (θ, ψ) = (0, 0) for c = 0 (both losses, since σ(0) = ½):

    J = [[-2λ_G,  ½  ],
         [ -½,  -2λ_D]]

trace -2(λ_G + λ_D), determinant 4λ_Gλ_D + ¼, hence the eigenvalues

    μ± = -(λ_G + λ_D) ± √((λ_G - λ_D)² - ¼)

— ±½i without a penalty (a pure rotation: no convergence), and a real part -(λ_G + λ_D)
with a penalty until |λ_G - λ_D| = ½ (critical damping). The penalty λ ψ² enters the field
as -2λψ, which is why λ appears doubled in J but not in μ±: no rescaling is needed.

For c = 0 the fixed point is (0, 0). For c ≠ 0 and λ_G = 0 it is (c, 0): an L2 penalty on
the discriminator leaves the equilibrium where it belongs. With λ_G > 0 the pull of λ_G θ²
toward 0 moves it to a biased point (θ*, ψ*) that ``DiracGAN.fixed_point`` finds by a 1-D
root find (derivation in its docstring).

Discrete updates with step size h (``DiracGAN.simulate``):
    simultaneous:  (θ, ψ) ← (θ, ψ) + h v(θ, ψ)
    alternating:   ψ ← ψ + h v_ψ(θ, ψ), then θ ← θ + h v_θ(θ, ψ_new)
The alternating order, discriminator first, is the order of ``train.train_gan``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .checks import finite_float, int_at_least, positive_int
from .losses import GEN_LOSS_CHOICES, discriminator_loss, generator_loss
from .regularizers import validate_coef

UPDATE_MODES = ("simultaneous", "alternating")


def _check_mode(mode: str) -> str:
    if mode not in UPDATE_MODES:
        raise ValueError(f"mode must be one of {UPDATE_MODES}, got {mode!r}")
    return mode


def _check_step_size(h: float) -> float:
    h = finite_float(h, "h (step size)")
    if h <= 0:
        raise ValueError(f"h (step size) must be > 0, got {h}")
    return h


def sigmoid(x):
    """σ(x) = 1 / (1 + e^{-x}), written as ½(1 + tanh(x/2)) so that no exp overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=np.float64)))


def _dsigmoid(x):
    s = sigmoid(x)
    return s * (1.0 - s)


def _sig(x: float) -> float:
    """Scalar σ with ``math`` (about 10x faster than numpy on single numbers)."""
    return 0.5 * (1.0 + math.tanh(0.5 * x))


def closed_form_eigenvalues(lambda_g: float = 0.0, lambda_d: float = 0.0) -> np.ndarray:
    """Eigenvalues -(λ_G + λ_D) ± √((λ_G - λ_D)² - ¼) of the field's Jacobian at (0, 0), c = 0.

    Args:
        lambda_g: λ_G >= 0.
        lambda_d: λ_D >= 0.

    Returns:
        A complex array of shape (2,): the "+" root first.
    """
    lg, ld = validate_coef(lambda_g, "lambda_g"), validate_coef(lambda_d, "lambda_d")
    root = np.sqrt(complex((lg - ld) ** 2 - 0.25))
    return np.array([-(lg + ld) + root, -(lg + ld) - root])


def critical_lambda_d(lambda_g: float = 0.0) -> float:
    """The λ_D at which the eigenvalues at (0, 0) turn from complex to real: λ_G + ½.

    For |λ_G - λ_D| < ½ the linearized dynamics spiral (real part -(λ_G + λ_D) for both
    eigenvalues); above λ_G + ½ they are over-damped and the slower eigenvalue creeps back
    toward 0. (For λ_G > ½ they are also real below λ_D = λ_G - ½.)
    """
    return validate_coef(lambda_g, "lambda_g") + 0.5


def update_matrix(jacobian: np.ndarray, h: float, mode: str = "simultaneous") -> np.ndarray:
    """Jacobian of one discrete update x ← F(x) at a fixed point with field Jacobian ``jacobian``.

    Args:
        jacobian: the 2×2 Jacobian of v in the order (θ, ψ).
        h: step size > 0.
        mode: ``"simultaneous"`` gives I + hJ; ``"alternating"`` (ψ first, then θ) gives
            (I + h J_θ)(I + h J_ψ), where J_ψ keeps only J's ψ row and J_θ only its θ row.

    Returns:
        The 2×2 matrix; the update converges locally iff its spectral radius is < 1.
    """
    jac = np.asarray(jacobian, dtype=np.float64)
    if jac.shape != (2, 2) or not np.isfinite(jac).all():
        raise ValueError(f"jacobian must be a finite 2x2 array, got shape {jac.shape}")
    h = _check_step_size(h)
    eye = np.eye(2)
    if _check_mode(mode) == "simultaneous":
        return eye + h * jac
    d_step = eye.copy()
    d_step[1] += h * jac[1]
    g_step = eye.copy()
    g_step[0] += h * jac[0]
    return g_step @ d_step


def spectral_radius(jacobian: np.ndarray, h: float, mode: str = "simultaneous") -> float:
    """max |eigenvalue| of ``update_matrix(jacobian, h, mode)``."""
    return float(np.max(np.abs(np.linalg.eigvals(update_matrix(jacobian, h, mode)))))


def max_stable_step(eigenvalues) -> float:
    """Largest h for which simultaneous GD converges locally: min over μ of -2 Re μ / |μ|².

    |1 + hμ| < 1 ⟺ 0 < h < -2 Re μ / |μ|²; returns 0.0 if some Re μ >= 0 (no h works).
    """
    mus = np.atleast_1d(np.asarray(eigenvalues, dtype=np.complex128))
    if np.any(mus.real >= 0):
        return 0.0
    return float(np.min(-2 * mus.real / np.abs(mus) ** 2))


def efold_steps(game: DiracGAN, h: float, mode: str = "simultaneous") -> float:
    """Steps after which a small error around ``game.fixed_point()`` has shrunk by a factor e: -1/ln ρ.

    ρ is the spectral radius of ``update_matrix`` at the fixed point. For alternating steps with
    λ_G = 0 (and complex eigenvalues, λ_D < ½ for small h) det M = 1 - 2hλ_D = ρ², so the error
    shrinks by ≈ hλ_D per step and the e-fold time is ≈ 1/(hλ_D): 50,000 steps for the source
    article's λ_D = 1e-4 at h = 0.2, 5·10⁷ at h = 2e-4 — in both cases about 800 turns around the
    fixed point (``steps_per_rotation``). For simultaneous steps ρ² = 1 - 2hλ_D + h²/4, which is < 1
    only for h < 8λ_D.

    Args:
        game: the game (its Jacobian is taken at its fixed point).
        h: step size > 0.
        mode: ``"simultaneous"`` or ``"alternating"``.

    Returns:
        -1/ln ρ as a float; ``inf`` when ρ >= 1 - 1e-12 (the error does not shrink, or by less
        than round-off: ``eigvals`` puts the ρ = 1 of alternating steps without a penalty at
        1 - 2e-16, which would read as an e-fold time of 4.5e15 steps).
    """
    rho = spectral_radius(game.jacobian(*game.fixed_point()), h, mode)
    return math.inf if rho >= 1.0 - 1e-12 else -1.0 / math.log(rho)


def steps_per_rotation(game: DiracGAN, h: float, mode: str = "simultaneous") -> float:
    """Steps for one turn of a small error around ``game.fixed_point()``: 2π / |arg ν|.

    ν is an eigenvalue of ``update_matrix`` at the fixed point; each step turns the error by its
    angle. For small h the angle is h |Im μ| (μ an eigenvalue of the field's Jacobian), so one turn
    takes ≈ 2π/(h |Im μ|) steps: ≈ 4π/h without λ_G and for small λ_D. ``efold_steps`` divided by
    this is the number of turns per factor e, ≈ |Im μ| / (2π |Re μ|) = 1/(4πλ_D) for λ_G = 0 and
    small λ_D: about 800 turns at λ_D = 1e-4, whatever h is.

    Args:
        game: the game (its Jacobian is taken at its fixed point).
        h: step size > 0.
        mode: ``"simultaneous"`` or ``"alternating"``.

    Returns:
        2π / max |arg ν| as a float; ``inf`` when both eigenvalues are real and positive (the
        error does not turn).
    """
    nus = np.linalg.eigvals(update_matrix(game.jacobian(*game.fixed_point()), h, mode))
    angle = float(np.max(np.abs(np.angle(nus))))
    return math.inf if angle == 0.0 else 2 * math.pi / angle


@dataclass(frozen=True)
class VectorFieldGrid:
    """The field v sampled on a regular grid (arrays of shape (n_psi, n_theta), ``meshgrid`` order)."""

    theta: np.ndarray
    psi: np.ndarray
    v_theta: np.ndarray
    v_psi: np.ndarray


@dataclass(frozen=True)
class DiracTrajectory:
    """Iterates of one discrete run.

    Attributes:
        theta, psi: arrays of shape (n + 1,), the start first. ``n`` is the requested number
            of steps unless the run overflowed (then it stops at the last finite iterate).
        h: step size.
        mode: ``"simultaneous"`` or ``"alternating"``.
        game: the ``DiracGAN`` that was simulated.
        fixed_point: ``game.fixed_point()``, the point the run is measured against.
        diverged: True when the iterates overflowed to inf/NaN and the run stopped early.
    """

    theta: np.ndarray
    psi: np.ndarray
    h: float
    mode: str
    game: DiracGAN
    fixed_point: tuple[float, float]
    diverged: bool = False

    @property
    def steps(self) -> int:
        """Number of steps actually taken."""
        return len(self.theta) - 1

    @property
    def final(self) -> tuple[float, float]:
        """The last iterate (θ, ψ)."""
        return float(self.theta[-1]), float(self.psi[-1])

    def distance(self, point: tuple[float, float] | None = None) -> np.ndarray:
        """Euclidean distance of every iterate to ``point`` (default: the game's fixed point)."""
        t0, p0 = self.fixed_point if point is None else point
        return np.hypot(self.theta - t0, self.psi - p0)


@dataclass(frozen=True)
class DiracGAN:
    """One Dirac-GAN game: penalties, data point and generator loss (all validated).

    Attributes:
        lambda_g: λ_G >= 0, the L2 coefficient on θ in L_G.
        lambda_d: λ_D >= 0, the L2 coefficient on ψ in L_D. Because ∇ₓ(ψx) = ψ, λ_D ψ² is
            also exactly the R1 gradient penalty (γ/2)‖∇ₓ logit‖² with γ = 2λ_D.
        c: the data point.
        gen_loss: ``"minimax"`` (Mescheder et al.'s zero-sum game, default) or
            ``"nonsaturating"`` (the source article's). Without a penalty, minimax
            simultaneous GD spirals out and alternating GD circles; the nonsaturating field has
            an extra damping term of fourth order near (0, 0), so simultaneous GD settles on a
            limit cycle and alternating GD drifts inward only slowly (algebraically).

    Raises:
        ValueError: for a negative, NaN or infinite λ, a non-finite c, or an unknown loss.
    """

    lambda_g: float = 0.0
    lambda_d: float = 0.0
    c: float = 0.0
    gen_loss: str = "minimax"

    def __post_init__(self) -> None:
        object.__setattr__(self, "lambda_g", validate_coef(self.lambda_g, "lambda_g"))
        object.__setattr__(self, "lambda_d", validate_coef(self.lambda_d, "lambda_d"))
        object.__setattr__(self, "c", finite_float(self.c, "c (data point)"))
        if self.gen_loss not in GEN_LOSS_CHOICES:
            raise ValueError(f"gen_loss must be one of {GEN_LOSS_CHOICES}, got {self.gen_loss!r}")

    # ----- the field ------------------------------------------------------------------

    @property
    def _r_sign(self) -> float:
        """v_θ = ψ r(u) - 2λ_G θ with r(u) = σ(±u): -1 for nonsaturating, +1 for minimax."""
        return -1.0 if self.gen_loss == "nonsaturating" else 1.0

    def losses(self, theta, psi) -> tuple[np.ndarray, np.ndarray]:
        """(L_D, L_G) at (θ, ψ); broadcasts over arrays. Uses -log σ(t) = log(1 + e^{-t})."""
        theta, psi = np.asarray(theta, dtype=np.float64), np.asarray(psi, dtype=np.float64)
        u = psi * theta
        loss_d = np.logaddexp(0.0, -psi * self.c) + np.logaddexp(0.0, u) + self.lambda_d * psi**2
        adv_g = np.logaddexp(0.0, -u) if self.gen_loss == "nonsaturating" else -np.logaddexp(0.0, u)
        return loss_d, adv_g + self.lambda_g * theta**2

    def vector_field(self, theta, psi) -> tuple[np.ndarray, np.ndarray]:
        """v = (-∂L_G/∂θ, -∂L_D/∂ψ) at (θ, ψ); broadcasts over arrays (float64)."""
        theta, psi = np.asarray(theta, dtype=np.float64), np.asarray(psi, dtype=np.float64)
        u = psi * theta
        v_theta = psi * sigmoid(self._r_sign * u) - 2 * self.lambda_g * theta
        v_psi = self.c * sigmoid(-psi * self.c) - theta * sigmoid(u) - 2 * self.lambda_d * psi
        return v_theta, v_psi

    def jacobian(self, theta: float = 0.0, psi: float = 0.0) -> np.ndarray:
        """The 2×2 Jacobian ∂v/∂(θ, ψ) at one point, from the analytic derivatives."""
        theta, psi = finite_float(theta, "theta"), finite_float(psi, "psi")
        u = psi * theta
        du = _dsigmoid(u)
        if self.gen_loss == "nonsaturating":
            dvt_dt = -psi**2 * du - 2 * self.lambda_g
            dvt_dp = sigmoid(-u) - u * du
        else:
            dvt_dt = psi**2 * du - 2 * self.lambda_g
            dvt_dp = sigmoid(u) + u * du
        dvp_dt = -sigmoid(u) - u * du
        dvp_dp = -self.c**2 * _dsigmoid(psi * self.c) - theta**2 * du - 2 * self.lambda_d
        return np.array([[dvt_dt, dvt_dp], [dvp_dt, dvp_dp]], dtype=np.float64)

    def field_grid(self, theta_lim: tuple[float, float] = (-2.0, 2.0),
                   psi_lim: tuple[float, float] = (-2.0, 2.0), n: int = 21) -> VectorFieldGrid:
        """Sample v on an n×n grid over ``theta_lim`` × ``psi_lim`` (for quiver / streamplot)."""
        n = int_at_least(n, "n", 2)
        t = np.linspace(finite_float(theta_lim[0], "theta_lim"), finite_float(theta_lim[1], "theta_lim"), n)
        p = np.linspace(finite_float(psi_lim[0], "psi_lim"), finite_float(psi_lim[1], "psi_lim"), n)
        tt, pp = np.meshgrid(t, p)
        vt, vp = self.vector_field(tt, pp)
        return VectorFieldGrid(tt, pp, vt, vp)

    # ----- equilibrium ----------------------------------------------------------------

    def fixed_point(self) -> tuple[float, float]:
        """The fixed point (θ*, ψ*) of v: the point the penalized dynamics converge to.

        c = 0: (0, 0). λ_G = 0: (c, 0) — v_θ = ψ r(ψθ) vanishes only at ψ = 0, and then
        v_ψ = (c - θ)/2. Otherwise (λ_G > 0, c ≠ 0), write u = ψθ and r(u) as in v_θ:

        * G's equation ψ r(u) = 2λ_G θ, multiplied by θ, gives u r(u) = 2λ_G θ², so u >= 0
          and θ, ψ share a sign s; multiplied by ψ it gives ψ² r(u) = 2λ_G u. Hence
              θ(u) = s √(u r(u) / (2λ_G)),    ψ(u) = s √(2λ_G u / r(u)).
        * D's equation becomes one equation in u:
              g(u) = c σ(-ψ(u) c) - θ(u) σ(u) - 2λ_D ψ(u) = 0.
          With s = -sign(c) every term of g has c's sign, so s = sign(c). g(0) = c/2 and g
          changes sign for large u; the smallest root (found by a scan and bisection to
          machine precision) is returned. To first order in λ_G (either loss, r(0) = ½),
              θ* ≈ c (1 - 4λ_G (c² + 4λ_D)),   ψ* ≈ 4λ_G c:
          the pull toward 0 grows with λ_G, and λ_D amplifies it.

        Returns:
            (θ*, ψ*) as floats.
        """
        c, lg = self.c, self.lambda_g
        if c == 0.0:
            return 0.0, 0.0
        if lg == 0.0:
            return c, 0.0
        s = math.copysign(1.0, c)

        def point(u: float) -> tuple[float, float]:
            r = _sig(self._r_sign * u)
            return s * math.sqrt(u * r / (2 * lg)), s * math.sqrt(2 * lg * u / r)

        def g(u: float) -> float:
            theta, psi = point(u)
            return c * _sig(-psi * c) - theta * _sig(u) - 2 * self.lambda_d * psi

        # g(0) = c/2: scan a geometric grid for the first sign change, then bisect.
        lo, hi = 0.0, None
        for u in np.geomspace(1e-12, 200.0, 400):
            if math.copysign(1.0, g(u)) != s:
                hi = float(u)
                break
            lo = float(u)
        if hi is None:  # pragma: no cover - g(u) has c's sign for no u in (0, 200]: not seen
            raise RuntimeError(f"no fixed point found for {self}")
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid in (lo, hi):
                break
            if math.copysign(1.0, g(mid)) == s:
                lo = mid
            else:
                hi = mid
        return point(0.5 * (lo + hi))

    # ----- discrete dynamics ------------------------------------------------------------

    def simulate(self, theta0: float = 1.0, psi0: float = 1.0, h: float = 0.2, steps: int = 500,
                 mode: str = "simultaneous") -> DiracTrajectory:
        """Run ``steps`` gradient steps of size ``h`` from (θ₀, ψ₀).

        Args:
            theta0, psi0: the start (finite).
            h: step size > 0 (the same for both players).
            steps: number of steps, a positive integer.
            mode: ``"simultaneous"`` or ``"alternating"`` (discriminator first).

        Returns:
            A ``DiracTrajectory``. A run whose iterates overflow stops there with
            ``diverged=True``; it does not raise.

        Raises:
            ValueError: for h <= 0, a non-finite start or h, a bad ``steps`` or ``mode``.
        """
        theta, psi = finite_float(theta0, "theta0"), finite_float(psi0, "psi0")
        h = _check_step_size(h)
        steps = positive_int(steps, "steps")
        mode = _check_mode(mode)
        # Scalar math on floats, vector_field's formulas written out with σ(x) = ½(1 + tanh(x/2))
        # and no function call per step (~25 % faster than calling them): ~0.6-0.8 µs a step on a
        # busy 2-core machine, so the explorer's 100,000-step runs take 60-80 ms. Python floats
        # overflow to inf silently; checked after every step.
        tanh, isfinite = math.tanh, math.isfinite
        lg2, ld2, c, half_sign = 2 * self.lambda_g, 2 * self.lambda_d, self.c, 0.5 * self._r_sign
        thetas, psis = [theta], [psi]
        diverged = False
        simultaneous = mode == "simultaneous"
        for _ in range(int(steps)):
            u = psi * theta
            v_psi = c * 0.5 * (1.0 + tanh(-0.5 * psi * c)) - theta * 0.5 * (1.0 + tanh(0.5 * u)) - ld2 * psi
            if simultaneous:
                v_theta = psi * 0.5 * (1.0 + tanh(half_sign * u)) - lg2 * theta
                theta, psi = theta + h * v_theta, psi + h * v_psi
            else:  # ψ first; θ then sees the new ψ
                psi = psi + h * v_psi
                theta = theta + h * (psi * 0.5 * (1.0 + tanh(half_sign * psi * theta)) - lg2 * theta)
            if not (isfinite(theta) and isfinite(psi)):
                diverged = True
                break
            thetas.append(theta)
            psis.append(psi)
        return DiracTrajectory(np.array(thetas), np.array(psis), h, mode, self,
                               self.fixed_point(), diverged)


# ----- autograd cross-check: the same field from the project's own loss functions ---------


def autograd_vector_field(game: DiracGAN, theta: torch.Tensor, psi: torch.Tensor) -> torch.Tensor:
    """v = (-∂L_G/∂θ, -∂L_D/∂ψ) by autograd through ``losses.discriminator_loss`` / ``generator_loss``.

    An independent check of ``DiracGAN.vector_field``: the logits are ψc (real) and ψθ (fake).

    Args:
        game: the game.
        theta, psi: 0-dim float64 tensors (gradients are taken with ``create_graph=True``
            so that the result can be differentiated again).

    Returns:
        A tensor of shape (2,).
    """
    real_logit = (psi * game.c).reshape(1)
    fake_logit = (psi * theta).reshape(1)
    loss_d = discriminator_loss(real_logit, fake_logit) + game.lambda_d * psi**2
    loss_g = generator_loss(fake_logit, gen_loss=game.gen_loss) + game.lambda_g * theta**2
    (g_theta,) = torch.autograd.grad(loss_g, theta, create_graph=True)
    (g_psi,) = torch.autograd.grad(loss_d, psi, create_graph=True)
    return -torch.stack([g_theta, g_psi])


def autograd_jacobian(game: DiracGAN, theta: float = 0.0, psi: float = 0.0) -> np.ndarray:
    """The 2×2 Jacobian of ``autograd_vector_field`` at (θ, ψ), in float64, by autograd."""
    x0 = torch.tensor([finite_float(theta, "theta"), finite_float(psi, "psi")], dtype=torch.float64)

    def field_fn(x: torch.Tensor) -> torch.Tensor:
        return autograd_vector_field(game, x[0], x[1])

    return torch.autograd.functional.jacobian(field_fn, x0, create_graph=False).numpy()
