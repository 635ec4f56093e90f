r"""The book's exercises, as data (:class:`Exercise`, :class:`Expect`).

Each page shows its exercises from here (``show_exercises("<page>")``), with the times that
``make exercises`` measured; the same command checks every :class:`Expect` of a solution
against what the snippet computes, so a solution's numbers are checked on every run. Snippets
use the quick preset (the smoke runner of ``make test`` swaps in ``"smoke"``), seed 0, the CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

Value = bool | float | tuple[float, ...]


@dataclass(frozen=True)
class Expect:
    """One outcome a solution states: ``expr`` (evaluated in the snippet's namespace after it
    ran, with :func:`numbers` at hand) must equal ``value``: exactly for a boolean, within
    ``tol`` (absolute) for a number or each number of a tuple. ``smoke``: also checked at the
    smoke preset (an outcome that does not depend on how long the models trained)."""

    name: str
    expr: str
    value: Value
    tol: float = 0.0
    smoke: bool = False


@dataclass(frozen=True)
class Exercise:
    """One exercise of page ``page``: the question (Markdown, before the snippet), the snippet
    a student copies (None: a question to think through, nothing to run), what to guess
    (Markdown after the snippet), the solution (Markdown) and the outcomes it asserts."""

    page: str
    number: int
    title: str
    question: str
    snippet: str | None
    solution: str
    after: str = ""
    expects: tuple[Expect, ...] = ()
    #: further (old, new) replacements of the smoke form, to keep ``make test`` short
    smoke_swaps: tuple[tuple[str, str], ...] = ()

    @property
    def key(self) -> str:
        """``<page>.<number>``, the exercise's name in the record."""
        return f"{self.page}.{self.number}"


# ------------------------------------------------------------------------------ fig3

_FIG3_SMALL = ("small = dict(num_tasks=3, max_per_task=200, classifier_epochs=1, "
               "frechet_samples=200)")

FIG3 = (
    Exercise(
        "fig3", 1, "switch the consistency regulariser off",
        r"""
The consistency term of eq. 6 asks the student's posterior over $z_d$ on replayed data to
match the teacher's. Train the lifelong model alone on the first three distributions (200
images per distribution, a small Fréchet evaluation, one seed) with the term switched off,
and compare with the default:
""",
        f"""
from lgm.experiments import make_config
from lgm.experiments.cache import cached_run
{_FIG3_SMALL}
runs = {{}}
for name, extra in {{"default": {{}}, "no consistency": {{"consistency_weight": 0.0}}}}.items():
    r = runs[name] = cached_run(make_config("quick", experiment="fashion", method="lifelong",
                                            seed=0, device="cpu", **small, **extra))
    print(name, [round(t["neg_elbo"], 1) for t in r["tasks"]],
          [round(t["log_frechet"], 2) for t in r["tasks"]],
          [t.get("consistency") for t in r["tasks"]])
""",
        r"""
At this budget the −ELBO and the log-Fréchet distance hardly move (seed 0, after the third
distribution: 337.7 nats with the term, 336.3 without; log-Fréchet 1.72 and 1.70), but the
agreement of the student's codes with the teacher's on the old test images falls from 80 % to
about 22 %. What is forgotten without the consistency term is not how to draw the old
distributions but *which code stands for which*: the student reassigns old images to other
codes, so fixing $z_d$ no longer selects one distribution, which is the property the
lifelong model's replay and Fig. 6 rely on.
""",
        after="""
`consistency` is the share of the past distributions' test images on which the student's
most probable code agrees with its teacher's. What changes: the −ELBO, the log-Fréchet
distance, or the codes?
""",
        expects=(
            Expect("code agreement after three distributions, default",
                   "runs['default']['tasks'][-1]['consistency']", 0.80, 0.08),
            Expect("code agreement after three distributions, no consistency",
                   "runs['no consistency']['tasks'][-1]['consistency']", 0.22, 0.1),
            Expect("-ELBO after three distributions, default",
                   "runs['default']['tasks'][-1]['neg_elbo']", 337.7, 3.0),
            Expect("the -ELBO hardly moves (under 5 nats)",
                   "abs(runs['default']['tasks'][-1]['neg_elbo']"
                   " - runs['no consistency']['tasks'][-1]['neg_elbo']) < 5", True),
        )),
    Exercise(
        "fig3", 2, r"$\lambda = 0$",
        r"""
Set the information-gain weight of eq. 6 to zero (`info_gain_weight=0.0`; the paper's
$\lambda$ is 0.01), on the same three distributions as exercise 1:
""",
        f"""
from lgm.experiments import make_config
from lgm.experiments.cache import cached_run
{_FIG3_SMALL}
runs = {{}}
for lam in (0.01, 0.0):
    r = runs[lam] = cached_run(make_config("quick", experiment="fashion", method="lifelong",
                                           seed=0, device="cpu", info_gain_weight=lam, **small))
    print(lam, [round(t["neg_elbo"], 1) for t in r["tasks"]],
          [round(t["log_frechet"], 2) for t in r["tasks"]],
          [t.get("consistency") for t in r["tasks"]])
""",
        r"""
No: at this budget $\lambda = 0$ and $\lambda = 0.01$ give the same numbers to 0.1 nats
(seed 0, after the third distribution: −ELBO 337.7, log-Fréchet 1.72, code agreement 80 %
in both). The information-gain term is a small correction at the paper's weight; what keeps
the codes' meaning is the replay with the consistency term (exercise 1). Appendix 7.6 (page
app76) sweeps $\lambda$ up to 1. ($\lambda = 0.01$ is the default, so its run is exercise
1's default run: a cache hit if you ran exercise 1 first.)
""",
        after="Does the model forget more?",
        expects=(
            Expect("-ELBO difference between lambda = 0 and 0.01",
                   "runs[0.0]['tasks'][-1]['neg_elbo'] - runs[0.01]['tasks'][-1]['neg_elbo']",
                   0.0, 0.2),
            Expect("code agreement difference between lambda = 0 and 0.01",
                   "runs[0.0]['tasks'][-1]['consistency']"
                   " - runs[0.01]['tasks'][-1]['consistency']", 0.0, 0.03),
        )),
    Exercise(
        "fig3", 3, "why EWC has the lower −ELBO at the quick budget",
        r"""
At the quick preset EWC ends with a lower −ELBO than the lifelong model, the reverse of the
paper-preset runs. Is it EWC's penalty, or something else that differs between the two?
Switch off what sets them apart, one thing at a time, on the first five distributions:
""",
        """
from lgm.experiments import make_config
from lgm.experiments.cache import cached_run
variants = {"lifelong": dict(method="lifelong"),
            "lifelong, no regularisers": dict(method="lifelong", consistency_weight=0.0,
                                             info_gain_weight=0.0),
            "lifelong, ten codes from the start": dict(method="lifelong", discrete=10),
            "ewc": dict(method="ewc"),
            "ewc, gamma = 0": dict(method="ewc", ewc_gamma=0.0)}
runs = {}
for name, v in variants.items():
    r = runs[name] = cached_run(make_config("quick", experiment="fashion", seed=0,
                                            device="cpu", num_tasks=5, **v))
    print(name, [round(t["neg_elbo"]) for t in r["tasks"]],
          [round(t["log_frechet"], 2) for t in r["tasks"]])
""",
        r"""
Neither the penalty nor the regularisers (seed 0, after the fifth distribution): EWC 285
nats, EWC with $\gamma = 0$ still 291; lifelong 304, without its two regularisers 302, with
ten codes from the start 304. What remains is the architecture: appendix 7.4.1 gives EWC no
BatchNorm, and at 48 Adam steps per distribution the dense VAE without it fits faster. The
log-Fréchet distance goes the other way already at this budget (lifelong 4.96, EWC 5.04).
At the paper preset, with about 200 epochs per distribution, the lifelong model's −ELBO is
the lower one (257 against 267 nats after ten distributions), as the paper reports.
""",
        expects=(
            Expect("both EWC runs below every lifelong variant (-ELBO, fifth distribution)",
                   "max(runs[k]['tasks'][-1]['neg_elbo'] for k in ('ewc', 'ewc, gamma = 0'))"
                   " < min(r['tasks'][-1]['neg_elbo'] for k, r in runs.items()"
                   " if k.startswith('lifelong'))", True),
            Expect("-ELBO after five distributions: lifelong, no regularisers, ten codes, "
                   "ewc, ewc gamma = 0",
                   "[runs[k]['tasks'][-1]['neg_elbo'] for k in variants]",
                   (304.0, 302.0, 304.0, 285.0, 291.0), 4.0),
            Expect("log-Frechet after five distributions: lifelong, ewc",
                   "[runs[k]['tasks'][-1]['log_frechet'] for k in ('lifelong', 'ewc')]",
                   (4.96, 5.04), 0.1),
        )),
)

# ------------------------------------------------------------------------------ fig1b

FIG1B = (
    Exercise(
        "fig1b", 1, "fewer codes than digits",
        r"""
Train the discrete + continuous model with $J = 5$ codes instead of 10 (everything else as on
this page, quick preset) and rerun the measures:
""",
        """
from lgm.experiments import make_config
from lgm.experiments.cache import cached_run
from lgm.report import latent
r = cached_run(make_config("quick", experiment="mnist", method="full", seed=0,
                           continuous=2, discrete=5, classifier_epochs=0, visuals=8,
                           max_per_task=200, device="cpu"))
print(latent.code_purity(r, 5))
print(latent.prior_measures(*latent.posterior(r), 5, seed=0))
""",
        r"""
Fewer codes make both worse: with five codes for ten digits each code must hold about two
digits. Measured at the quick preset (seed 0): a code's majority digit covers 35 % of the
images with $J = 5$ against 46 % with $J = 10$, and the fraction of mixed prior draws is
79 % with $J = 5$, between the standard VAE's 94 % ($J = 1$) and 71 % with $J = 10$. Inside
a code, $z_c \sim \mathcal N(0, I)$ lands between the clusters of the digits that share it,
so the remedy of section 4.2 needs at least as many codes as distributions, which is why
the lifelong model grows its categorical by one code per distribution. (At this budget
even ten codes are far from one digit each: the trend, not the level, is the lesson.)
""",
        after="What do you expect for the codes' purity and for the fraction of mixed prior "
              "draws?",
        expects=(
            Expect("purity with J = 5 (%)", "numbers(latent.code_purity(r, 5))[2]", 35.0, 5.0),
            Expect("fraction of mixed prior draws with J = 5",
                   "float(latent.prior_measures(*latent.posterior(r), 5, seed=0)[0])",
                   0.79, 0.05),
        )),
    Exercise(
        "fig1b", 2, "where does the prior mass go?",
        r"""
In the shares figure, find the digit with the smallest share for the standard VAE, and
look for it in the first scatter plot. Where does its cluster lie relative to the 1σ
circle? (No computation needed.)
""",
        None,
        r"""
The undersampled digits are those whose posterior means lie far from the origin (often
outside the 2σ circle) or in a thin strip: the prior $\mathcal N(0, I)$ puts little mass
there, so a teacher that replays by sampling the prior rarely generates them, and a
student trained on its replay forgets them first (shortcoming 2).
"""),
)

# ------------------------------------------------------------------------------ app73

APP73 = (
    Exercise(
        "app73", 1, "the replay proportion",
        r"""
At distribution $i$ the student's minibatch mixes real data of distribution $i$ with the
teacher's samples of distributions $1..i-1$. What fraction of a batch of 64 is replay at
the second, fifth and tenth distribution? Guess first, then ask the library:
""",
        """
from lgm.training.replay import replay_count
counts = [replay_count(64, k) for k in range(10)]  # k = distributions the teacher has seen
print(counts)
""",
        r"""
The replayed fraction is $\pi = k/(k+1)$ after $k$ distributions (section 4, algorithm 1):
`[0, 32, 42, 48, 51, 53, 54, 56, 56, 57]` rows of 64, i.e. 50 % at the second
distribution, 80 % at the fifth, 89 % at the tenth. The with-LL term asks the student to
reconstruct the *teacher's* samples pixel for pixel, so its share of the loss grows with
$\pi$: late in the sequence the student spends most of its batch copying the teacher's
(blurred) replay rather than fitting real data, which is the mechanism behind appendix
7.3's finding that with-LL is worse on both the ELBO and the Fréchet distance.
""",
        after="Why does a likelihood regulariser on the replayed images (the with-LL variant) "
              "weigh more and more as distributions accumulate?",
        expects=(Expect("replayed rows of 64", "counts",
                        (0.0, 32.0, 42.0, 48.0, 51.0, 53.0, 54.0, 56.0, 56.0, 57.0),
                        smoke=True),)),
    Exercise(
        "app73", 2, "a weight of zero",
        r"""
What does this page compute when you set `ll_weight = 0.0` in its parameters cell? Its two
configurations (first seed) are then these; run them:
""",
        """
from lgm.experiments import make_config
from lgm.experiments.cache import cached_run
base = dict(experiment="fashion", method="lifelong", seed=0, device="cpu", visuals=8)
without_ll = cached_run(make_config("quick", **base))
with_ll = cached_run(make_config("quick", **base, likelihood_weight=0.0))
print(without_ll["config_key"] == with_ll["config_key"], with_ll.get("cache"))
""",
        r"""
With weight 0 the with-LL configuration is field for field the without-LL one (the
likelihood weight is 0.0 by default), so both labels get the *same* result: the curves
coincide and every difference in the table is exactly 0. From an empty cache the run is
trained once (the time above), and the second label is a cache hit (`True hit`); run again,
nothing is trained at all. The result cache keys a run by all of its settings, not by the
label a page gives it.
""",
        after="And how long does a rerun take?",
        expects=(Expect("same configuration key", "without_ll['config_key'] == "
                        "with_ll['config_key']", True, smoke=True),
                 Expect("the with-LL run is a cache hit", "with_ll.get('cache') == 'hit'",
                        True, smoke=True))),
)

# ------------------------------------------------------------------------------ fig9

FIG9 = (
    Exercise(
        "fig9", 1, "forward or reverse KL, on one distribution pair",
        r"""
The consistency term compares the student's posterior over the codes with the teacher's,
$\mathrm{KL}[Q_\phi(z_d \mid \hat x) \,\|\, Q_\Phi(z_d \mid \hat x)]$ (reverse, the
paper's) or the other way round (forward). Before running anything: for a teacher that
is confident (one code near probability 1) and a student that spreads its mass, which
direction penalises the student more? Then check on two distributions, two seeds:
""",
        """
from lgm.experiments import make_config
from lgm.experiments.cache import cached_runs
runs = {}
for d in ("reverse", "forward"):
    rs = runs[d] = cached_runs([make_config("quick", experiment="fashion", method="lifelong",
                                            seed=s, num_tasks=2, max_per_task=200,
                                            classifier_epochs=1, frechet_samples=200,
                                            consistency_direction=d, device="cpu")
                                for s in (0, 1)])
    print(d, [round(r["tasks"][-1]["neg_elbo"], 1) for r in rs])
""",
        r"""
With a confident teacher $q_T = (1-\epsilon, \epsilon)$ and a spread student
$q_S = (0.5, 0.5)$, $\mathrm{KL}[q_T \| q_S] \approx \log 2$ while
$\mathrm{KL}[q_S \| q_T] \approx \tfrac12 \log \tfrac{1}{2\epsilon}$, which grows without
bound as $\epsilon \to 0$: the direction with the *student* first (mode-seeking) punishes
a student that puts mass where the teacher has none. In training, though, both directions
push the student to the teacher's code, and the outcome barely depends on the direction:
after the second distribution, −ELBO 289.9 and 285.9 nats (seeds 0, 1) with the reverse
KL, 290.2 and 285.8 with the forward KL. The directions differ by 0.1 to 0.3 nats, the
seeds by 4 nats: "no difference", as appendix 7.9 reports.
""",
        expects=(
            Expect("-ELBO, reverse, seeds 0 and 1",
                   "[r['tasks'][-1]['neg_elbo'] for r in runs['reverse']]", (289.9, 285.9), 2.0),
            Expect("-ELBO, forward, seeds 0 and 1",
                   "[r['tasks'][-1]['neg_elbo'] for r in runs['forward']]", (290.2, 285.8), 2.0),
            Expect("the directions differ less than the seeds",
                   "max(abs(a['tasks'][-1]['neg_elbo'] - b['tasks'][-1]['neg_elbo'])"
                   " for a, b in zip(runs['reverse'], runs['forward']))"
                   " < abs(runs['reverse'][0]['tasks'][-1]['neg_elbo']"
                   " - runs['reverse'][1]['tasks'][-1]['neg_elbo'])", True),
        )),
)

# ------------------------------------------------------------------------------ kd_bridge

KD_BRIDGE = (
    Exercise(
        "kd_bridge", 1, "the padding mass of a grown categorical",
        r"""
The lifelong student has one code more than its teacher. To compare them the teacher's
posterior is padded: its probabilities are scaled by $1 - m$ and the new code gets the
pad mass $m$ (`pad_mass`, $10^{-4}$ by default). A teacher posterior $(0.5, 0.3, 0.2)$ and a
student that puts $0.1$ on the new code, $(0.45, 0.27, 0.18, 0.10)$: compute both directions
of the KL for $m = 10^{-4}$ and $m = 10^{-2}$:
""",
        """
import torch
from lgm.experiments.kd_bridge import reference_kl
t = torch.tensor([[0.5, 0.3, 0.2]], dtype=torch.float64).log()
s = torch.tensor([[0.45, 0.27, 0.18, 0.10]], dtype=torch.float64).log()
kls = {m: [float(reference_kl(s, t, d, pad_mass=m)) for d in ("reverse", "forward")]
       for m in (1e-4, 1e-2)}
print(kls)
""",
        r"""
Reverse (the lifelong paper's KL(student ‖ teacher)): 0.596 nats at $m = 10^{-4}$, 0.145 at
$m = 10^{-2}$; forward: 0.105 and 0.071. The reverse KL contains
$0.1 \log(0.1 / m)$ for the new code, which grows without bound as $m \to 0$ (0.69 nats
at $10^{-4}$), while the forward KL only sees $m \log(m / 0.1) \approx 0$ there and the
rescaling $\log(1/0.9)$ of the old codes. So with the reverse direction and a tiny pad
mass, the consistency term strongly forbids the student to assign replayed (old) images to
the new code, keeping the new code for the new distribution; the forward direction barely
cares. The pad mass is a reading of ours (the paper does not give it); it sets how hard
that constraint is.
""",
        after="Which direction depends strongly on $m$, and what does that mean for a student "
              "that starts to use its new code on *replayed* (old) data?",
        expects=(Expect("reverse and forward KL at m = 1e-4", "kls[1e-4]", (0.596, 0.105),
                        0.001, smoke=True),
                 Expect("reverse and forward KL at m = 1e-2", "kls[1e-2]", (0.145, 0.071),
                        0.001, smoke=True))),
)

# ------------------------------------------------------------------------------ kd_fig2

KD_FIG2 = (
    Exercise(
        "kd_fig2", 1, "how good is the paper's estimator here?",
        r"""
Take the teacher of depth $L = 1$ and a "student" that is the same chain with noise std 0.11
instead of 0.1. Compute the exact output KL with `lgm.metrics.chain_kl` and the paper's
density-ratio estimate on 20000 samples of each:
""",
        """
import torch
from lgm.metrics.chain_kl import chain_conditional, law_kl, propagate, uniform_grid, uniform_root
from lgm.metrics.density_ratio import density_ratio_kl
from lgm.models.chains import GaussianChainTeacher
teacher, student = GaussianChainTeacher(1).double(), GaussianChainTeacher(1, std=0.11).double()
root, grid = uniform_root(-1, 1), uniform_grid(-2, 2, 0.0125)
p = propagate("gaussian", chain_conditional(teacher), [1], root, grid)[-1][0]
q = propagate("gaussian", chain_conditional(student), [1], root, grid)[-1][0]
exact = float(law_kl(p, q, grid[1]))
g = torch.Generator().manual_seed(0)
estimate = density_ratio_kl(teacher.sample_output(20000, g), student.sample_output(20000, g),
                            generator=g)
print(f"exact {exact:.5f}, estimate {estimate.value:.5f} ± {estimate.stderr:.5f}")
""",
        r"""
The per-layer error is $\log 1.1 + 1/(2 \cdot 1.21) - 1/2 \approx 0.0085$ nats, but the output
KL is only about 0.00045: $y$ is a mixture over $z_1 \sim U[-1, 1]$, whose spread hides most
of the change in the noise. The estimate from 20000 samples reads about $0.00003 \pm 0.0002$:
consistent with the exact value, and unable to tell it from zero. Most exact values on this
page are of this size or smaller.
""",
        after="How does the exact value compare with the per-layer error, and can the "
              "estimate tell it from zero?",
        expects=(Expect("exact output KL", "exact", 0.00045, 0.00002, smoke=True),
                 Expect("the estimate is within two standard errors of zero",
                        "abs(estimate.value) < 2 * estimate.stderr", True, smoke=True))),
    Exercise(
        "kd_fig2", 2, "a weaker student",
        r"""
Distil a 3-unit plain MLP instead of the page's student, at depths 1, 5 and 10, and compare
its exact KLs with the literal reading's:
""",
        """
from lgm.experiments.kd_toy import run_toy, toy_config
r = run_toy(toy_config("quick", "gaussian", student="mlp", hidden=3, layers=(1, 5, 10)))
for m in ("ours", "local"):
    print(m, [f"{kl:.3g}" for kl in r[f"kl_exact_{m}"][0]])
""",
        r"""
A 3-unit plain MLP cannot represent $\mu$ and the std well, so both methods' KLs are tens of
times the literal reading's. On our CPU (300 steps, seed 0) ours read 0.013, 0.039, 0.11 and
local 0.013, 0.074, 0.27 at $L = 1, 5, 10$: ours below local and local growing, the
figure's shape; the `mlp3` row of the readings table shows what happens further down the
chain (both grow fast beyond $L = 10$, ours no lower at $L = 20$).
""",
        expects=(
            Expect("ours at L = 1, 5, 10", "r['kl_exact_ours'][0]", (0.013, 0.039, 0.11), 0.01),
            Expect("local at L = 1, 5, 10", "r['kl_exact_local'][0]", (0.013, 0.074, 0.27),
                   0.02),
            Expect("ours below local at L = 5 and 10",
                   "all(o < lo for o, lo in zip(r['kl_exact_ours'][0][1:],"
                   " r['kl_exact_local'][0][1:]))", True),
        ),
        smoke_swaps=(("layers=(1, 5, 10)", "layers=(1, 2)"),)),
)

# ------------------------------------------------------------------------------ kd_fig5

KD_FIG5 = (
    Exercise(
        "kd_fig5", 1, "how fast does the literal chain die?",
        r"""
Compute the exact law of $y$ of the binomial teacher chain at $L = 1, 5, 20$: its
$P(y = 0)$ and $\mathbb{E}[y \mid y > 0]$.
""",
        """
import torch
from lgm.metrics.chain_kl import chain_conditional, propagate, uniform_root
from lgm.models.chains import BinomialChainTeacher
laws = propagate("binomial", chain_conditional(BinomialChainTeacher(20).double()), [1] * 20,
                 uniform_root(0.0, 1.0, 256), None, 1000)
y = torch.arange(1001, dtype=torch.float64)
rows = {}
for depth in (1, 5, 20):
    law = laws[depth - 1][0]
    rows[depth] = (float(law[0]), float((law * y).sum() / law[1:].sum()))
    print(depth, [round(v, 3) for v in rows[depth]])
""",
        r"""
$P(y = 0)$ = 0.632, 0.859, 0.955 and $\mathbb{E}[y \mid y > 0]$ = 1.36, 3.54, 11.2, while
$\mathbb{E}\,y = 0.5$ at every depth: a critical branching process. Nearly all of the
output law's mass sits at 0, so a student gets most of it right by keeping chains dead; the
KL is decided by the rare survivors.
""",
        expects=(Expect("P(y = 0) at L = 1, 5, 20", "[rows[d][0] for d in (1, 5, 20)]",
                        (0.632, 0.859, 0.955), 0.001, smoke=True),
                 Expect("E[y | y > 0] at L = 1, 5, 20", "[rows[d][1] for d in (1, 5, 20)]",
                        (1.36, 3.54, 11.2), 0.01, smoke=True))),
    Exercise(
        "kd_fig5", 2, "a weak student",
        r"""
Distil a plain 8-unit MLP on $\log(1 + z)$, with no skip connection of the teacher's form,
at depths 1, 5 and 10, and compare its exact KLs with the literal reading's:
""",
        """
from lgm.experiments.kd_toy import run_toy, toy_config
r = run_toy(toy_config("quick", "binomial", student="mlp", hidden=8, layers=(1, 5, 10)))
for m in ("ours", "local"):
    print(m, [f"{kl:.3g}" for kl in r[f"kl_exact_{m}"][0]])
""",
        r"""
Both methods' KLs jump from below $10^{-4}$ to nats: on our CPU (300 steps, seed 0) ours read
0.83, 3.7, 3.0 and local 0.83, 1.24, 2.7 at $L = 1, 5, 10$. Local now accumulates error, as
in the figure, but ours is no better: the `mlp8` row of the readings table says the same at
$L = 20$ (2.6 vs 2.7).
""",
        expects=(
            Expect("ours at L = 1, 5, 10", "r['kl_exact_ours'][0]", (0.83, 3.7, 3.0), 0.3),
            Expect("local at L = 1, 5, 10", "r['kl_exact_local'][0]", (0.83, 1.24, 2.7), 0.3),
        ),
        smoke_swaps=(("layers=(1, 5, 10)", "layers=(1, 2)"),)),
)

# ------------------------------------------------------------------------------ kd_hm

KD_HM = (
    Exercise(
        "kd_hm", 1, "distil without the latent loss",
        r"""
Eq. 7 is $\mathcal L_{sd} + \lambda \mathcal L_{latent}$. The last claim above says that
$\mathcal L_{sd}$ alone sends no gradient to the binary latent layers. Distil the student
with $\lambda = 0$ and compare its KL to the teacher with $\lambda = 1$ (quick preset,
one seed, ours only; the teacher is trained first and cached):
""",
        """
from lgm.experiments.kd_hm import kd_hm_config, run_kd_hm
kl = {}
for lam in (1.0, 0.0):
    r = run_kd_hm(kd_hm_config("quick", seed=0, lam=lam, methods=("ours",)))
    kl[lam] = r["metrics"]["ours"]["kl_teacher"]
    print(lam, round(kl[lam], 3))
""",
        r"""
With $\lambda = 1$ the student is as good as the teacher (KL(T ‖ ours) = 0.021 nats at
the quick preset, seed 0); with $\lambda = 0$ it is not (1.83 nats): $\mathcal L_{sd}$
trains the output conditionals at the student's own latent samples, but the binary latents
are sampled, so no gradient reaches the latent conditionals and they stay at their random
initialisation. The latent term of eq. 6 is what teaches the student's hidden layers.
""",
        expects=(Expect("KL(T || ours), lambda = 1", "kl[1.0]", 0.021, 0.01),
                 Expect("KL(T || ours), lambda = 0", "kl[0.0]", 1.83, 0.1))),
)

# ------------------------------------------------------------------------------ kd_table1

KD_TABLE1 = (
    Exercise(
        "kd_table1", 1, "a student as wide as its teacher",
        r"""
Distil a student of the teacher's own width (quick preset: 16) instead of 4, one seed (the
teacher is trained first, then cached):
""",
        """
from lgm.experiments.kd_compression import kd_compression_config, metric_values, run_table1
res = run_table1(kd_compression_config("quick", seeds=(0,), student_widths=(16,)))
fid_t = {}
for (w, m), runs in res["students"].items():
    fid_t[m] = float(metric_values(runs, "teacher", "fid").mean())
    print(m, w, [round(float(metric_values(runs, against, k).mean()), 3)
                 for against in ("teacher", "data") for k in ("fid", "emd", "mmd", "1nn")])
""",
        r"""
It shrinks. At width 4 ours is far ahead on every column (seed 0: FID-T 2.33 against 23.06
for local and 11.17 for scratch; FID against the data 12.52, 30.57, 20.14). At width 16
ours still beats local on all four "-T" columns (FID-T 3.78 against 7.62), but the scratch
student of the teacher's own width catches up: FID-T 3.71 against 3.78, and closer to the
data (FID 12.08 against 13.22). A student with the teacher's capacity, trained on the data
for as many steps, learns as good a model as the teacher; what distillation adds is most
visible when the student is too small to find that model alone. Local distillation stays
behind at both widths: it fits each conditional at the teacher's samples, and its errors
add up along the ladder when the student runs on its own samples, which eq. 4's paths on
shared noise avoid.
""",
        after="Before running it: should ours' lead over local distillation and over the "
              "scratch student grow or shrink, and why?",
        expects=(
            Expect("FID-T at width 16: ours, local, scratch",
                   "[fid_t[m] for m in ('ours', 'local', 'scratch')]", (3.78, 7.62, 3.71), 0.5),
            Expect("ours beats local on FID-T", "fid_t['ours'] < fid_t['local']", True),
        )),
)

EXERCISES: tuple[Exercise, ...] = (*FIG1B, *FIG3, *APP73, *FIG9, *KD_BRIDGE, *KD_FIG2,
                                   *KD_FIG5, *KD_HM, *KD_TABLE1)
