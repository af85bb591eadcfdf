//! L-BFGS (`torch.optim.LBFGS`) as a reverse-communication state machine: optkern cannot call
//! a closure (no allocation, C callers), so the caller evaluates the loss and gradient at the
//! point [`lbfgs_step`] leaves in `params` and calls again, until it answers
//! [`LbfgsRequest::Done`] — one `Done` is one `LBFGS.step(closure)`.
//!
//! ```text
//! step:  f, g at x;  stop if max|g| ≤ tol_grad
//!   up to max_iter times:
//!     first iteration ever: d = −g, H = 1, no history
//!     else: y = g − g_prev, s = t·d; keep (y, s, 1/(y·s)) when y·s > 1e-10 (history_size
//!           pairs, oldest dropped), H = y·s / y·y; two-loop recursion:
//!           q = −g;  newest → oldest: α_i = ρ_i s_i·q, q −= α_i y_i
//!           r = H q; oldest → newest: β_i = ρ_i y_i·r, r += (α_i − β_i) s_i;   d = r
//!     g_prev = g, f_prev = f;  t = min(1, 1/‖g‖₁)·lr on the first iteration ever, else lr
//!     stop if g·d > −tol_change
//!     fixed step: x += t·d, evaluate (not on the last iteration);
//!     strong Wolfe (c₁ = 1e-4, c₂ = 0.9): bracket and zoom by cubic interpolation on
//!           x₀ + t·d, at most max_eval − evals trials; x = x₀ + t·d at the best point
//!     stop if it = max_iter, evals ≥ max_eval, max|g| ≤ tol_grad, max|t·d| ≤ tol_change
//!           or |f − f_prev| < tol_change
//! ```
//! Generic over `f32` and `f64` ([`LbfgsReal`]): vectors in that type, dot products summed in
//! f64 in index order (the same bits on every build and width), and the scalars torch keeps
//! as 0-dim tensors (`y·s`, `ρ`, `H`, `α`, `β`, `g·d`, `t`) rounded to that type.

use crate::error::{Error, Problem};
use crate::validate;

/// The element types L-BFGS runs in: `f32` and `f64` (sealed).
pub trait LbfgsReal: Copy + core::ops::Neg<Output = Self> + sealed::Sealed {
    /// Widening to f64 (exact).
    fn to_f64(self) -> f64;
    /// Rounding from f64 (to nearest).
    fn from_f64(x: f64) -> Self;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl LbfgsReal for f32 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
}

impl LbfgsReal for f64 {
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn from_f64(x: f64) -> Self {
        x
    }
}

/// `x` rounded to `T` (torch's 0-dim tensors of the run's dtype), back in f64.
#[inline(always)]
fn round<T: LbfgsReal>(x: f64) -> f64 {
    T::from_f64(x).to_f64()
}

/// `torch.optim.LBFGS`'s `line_search_fn`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LineSearch {
    /// `None`: a fixed step `t = lr` (the first iteration ever: `min(1, 1/‖g‖₁)·lr`).
    #[default]
    Fixed = 0,
    /// `"strong_wolfe"`: torch's bracketing and zoom with cubic interpolation.
    StrongWolfe = 1,
}

/// `torch.optim.LBFGS`'s options (defaults are torch's).
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LbfgsConfig {
    /// Learning rate (the fixed step, or the line search's first trial). Default `1`; finite,
    /// `≥ 0`.
    pub lr: f64,
    /// Termination tolerance on `max|g|`. Default `1e-7`; finite, `≥ 0`.
    pub tolerance_grad: f64,
    /// Termination tolerance on a step's size and the change of the loss. Default `1e-9`;
    /// finite, `≥ 0`.
    pub tolerance_change: f64,
    /// Iterations per step. Default `20`; `≥ 1`.
    pub max_iter: u32,
    /// Evaluations per step; `0` means torch's default `max_iter·5/4`.
    pub max_eval: u32,
    /// Curvature pairs kept. Default `100`; `≥ 1`; fixed for the life of a state.
    pub history_size: u32,
    /// Fixed step or strong Wolfe. Default [`LineSearch::Fixed`] (torch's `None`).
    pub line_search: LineSearch,
    /// Maximize: the loss and gradient are negated as they are read. Default `false`.
    pub maximize: bool,
}

impl Default for LbfgsConfig {
    fn default() -> Self {
        Self {
            lr: 1.0,
            tolerance_grad: 1e-7,
            tolerance_change: 1e-9,
            max_iter: 20,
            max_eval: 0,
            history_size: 100,
            line_search: LineSearch::Fixed,
            maximize: false,
        }
    }
}

impl LbfgsConfig {
    /// The evaluations allowed per step (`max_eval`, or `max_iter·5/4` for `0`).
    pub fn max_evals(&self) -> u32 {
        if self.max_eval == 0 { (u64::from(self.max_iter) * 5 / 4) as u32 } else { self.max_eval }
    }
}

/// What [`lbfgs_step`] asks of the caller next.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LbfgsRequest {
    /// `params` hold a new point: evaluate the loss and gradient there and call again.
    Evaluate = 0,
    /// The step (one `LBFGS.step(closure)`) is over and `params` hold its result. The next
    /// call starts the next step, with the loss and gradient at `params`.
    Done = 1,
}

/// The strong-Wolfe line search in progress (torch's `_strong_wolfe` locals).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LineSearchState {
    /// Trials allowed after the first (`max_eval` − evaluations so far).
    pub max_ls: u32,
    /// Trials made after the first.
    pub ls_iter: u32,
    /// Bracket ends in use: 2, or 1 once a point satisfies the Wolfe conditions.
    pub len: u32,
    /// Which bracket end has the lower loss (the other is the high end).
    pub low: u32,
    /// The gradient slot of the previous trial while bracketing (0, 1: the two work slots;
    /// 2: the gradient at the start point).
    pub prev_slot: u32,
    /// The gradient slots of the bracket ends.
    pub slot: [u32; 2],
    /// The zoom's insufficient-progress flag (0 or 1: integers, so a state written by C is
    /// always a valid value).
    pub insuf_progress: u32,
    /// A point satisfies the strong Wolfe conditions (0 or 1).
    pub done: u32,
    /// The loss and directional derivative at the start point, and `max|d|`.
    pub f0: f64,
    /// `g·d` at the start point.
    pub gtd0: f64,
    /// `max|d|`.
    pub d_norm: f64,
    /// The trial step being evaluated.
    pub t: f64,
    /// The previous trial while bracketing: step, loss, `g·d`.
    pub t_prev: f64,
    /// See `t_prev`.
    pub f_prev: f64,
    /// See `t_prev`.
    pub gtd_prev: f64,
    /// The bracket: steps, losses, `g·d`.
    pub bracket: [f64; 2],
    /// See `bracket`.
    pub bracket_f: [f64; 2],
    /// See `bracket`.
    pub bracket_gtd: [f64; 2],
}

/// Waiting for a step's first evaluation.
const IDLE: u32 = 0;
/// Waiting for the evaluation after a fixed step.
const FIXED: u32 = 1;
/// Waiting for a line-search trial while bracketing.
const BRACKET: u32 = 2;
/// Waiting for a line-search trial while zooming.
const ZOOM: u32 = 3;

/// The gradient slot holding the gradient at the line search's start point (`prev_g`).
const START: u32 = 2;

/// L-BFGS's state between calls (zero = [`Default`] before the first): torch's `state`
/// (`func_evals`, `n_iter`, `t`, `H_diag`, `prev_loss` and the history's shape; its vectors
/// live in the work buffer) and the step in progress. The caller owns it and passes it back
/// unchanged.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LbfgsState {
    /// Evaluations consumed over the state's life (torch's `func_evals`).
    pub func_evals: u64,
    /// Iterations over the state's life (torch's `n_iter`).
    pub n_iter: u64,
    /// Parameter count, fixed at the first call.
    pub n: u64,
    /// History capacity, fixed at the first call.
    pub history_size: u32,
    /// Curvature pairs held (torch's `len(old_dirs)`).
    pub history_len: u32,
    /// Ring index of the oldest pair.
    pub history_start: u32,
    /// What the next call's evaluation is for (0 a new step, 1 a fixed step, 2 and 3 a line
    /// search's bracketing and zoom).
    pub phase: u32,
    /// Iterations in the current step.
    pub iter: u32,
    /// Evaluations in the current step.
    pub evals: u32,
    /// The last step length (torch's `t`).
    pub t: f64,
    /// The initial inverse-Hessian scale (torch's `H_diag`).
    pub h_diag: f64,
    /// The loss where the last direction was computed (torch's `prev_loss`).
    pub prev_loss: f64,
    /// The line search in progress.
    pub ls: LineSearchState,
}

/// The work buffer [`lbfgs_step`] needs for `n` parameters, in elements of the run's type:
/// the direction, the previous gradient, `history_size` pairs of `n`-vectors and their two
/// scalars, and for the strong-Wolfe search the start point and two gradient slots.
pub fn lbfgs_work_len(n: usize, cfg: &LbfgsConfig) -> usize {
    let h = cfg.history_size as usize;
    let vectors = 2usize
        .saturating_add(h.saturating_mul(2))
        .saturating_add(if cfg.line_search == LineSearch::StrongWolfe { 3 } else { 0 });
    n.saturating_mul(vectors).saturating_add(h.saturating_mul(2))
}

/// The work buffer, split.
struct Work<'a, T> {
    /// The direction `d` (and `q`, `r` while it is computed).
    d: &'a mut [T],
    /// The gradient where `d` was computed (and the line search's start gradient).
    prev_g: &'a mut [T],
    /// `y` vectors, a ring of `h × n`.
    dirs: &'a mut [T],
    /// `s` vectors, a ring of `h × n`.
    stps: &'a mut [T],
    /// `ρ = 1/(y·s)` per pair.
    ro: &'a mut [T],
    /// `α` per pair (the two-loop recursion's first loop).
    al: &'a mut [T],
    /// The line search's start point.
    x0: &'a mut [T],
    /// Two gradient slots of `n` for the line search.
    slots: &'a mut [T],
}

impl<'a, T: LbfgsReal> Work<'a, T> {
    /// The parts of a buffer of at least [`lbfgs_work_len`] (`None` if it is shorter: the
    /// caller checked it, and a checked split keeps a panic path out of the C library).
    fn split(work: &'a mut [T], n: usize, h: usize, line_search: bool) -> Option<Self> {
        let (d, rest) = work.split_at_mut_checked(n)?;
        let (prev_g, rest) = rest.split_at_mut_checked(n)?;
        let (dirs, rest) = rest.split_at_mut_checked(h.checked_mul(n)?)?;
        let (stps, rest) = rest.split_at_mut_checked(h * n)?;
        let (ro, rest) = rest.split_at_mut_checked(h)?;
        let (al, rest) = rest.split_at_mut_checked(h)?;
        let ls = if line_search { n } else { 0 };
        let (x0, rest) = rest.split_at_mut_checked(ls)?;
        let (slots, _) = rest.split_at_mut_checked(2 * ls)?;
        Some(Self { d, prev_g, dirs, stps, ro, al, x0, slots })
    }
}

/// Where the current gradient is: the caller's (with maximize's sign), a line-search slot,
/// or the start gradient.
#[derive(Clone, Copy)]
enum Grad {
    Caller,
    Slot(u32),
}

/// The validated options.
struct Opts {
    lr: f64,
    tol_grad: f64,
    tol_change: f64,
    max_iter: u32,
    max_eval: u32,
    h: usize,
    wolfe: bool,
    negate: bool,
}

impl Opts {
    fn from_config(cfg: &LbfgsConfig) -> Result<Self, Error> {
        let lr = validate::non_negative("lr", cfg.lr)?;
        let tol_grad = validate::non_negative("tolerance_grad", cfg.tolerance_grad)?;
        let tol_change = validate::non_negative("tolerance_change", cfg.tolerance_change)?;
        if cfg.max_iter == 0 {
            return Err(validate::out_of_range("max_iter", 0.0));
        }
        if cfg.history_size == 0 {
            return Err(validate::out_of_range("history_size", 0.0));
        }
        let max_eval = cfg.max_evals();
        if max_eval == 0 {
            return Err(validate::out_of_range("max_eval", 0.0));
        }
        Ok(Self {
            lr,
            tol_grad,
            tol_change,
            max_iter: cfg.max_iter,
            max_eval,
            h: cfg.history_size as usize,
            wolfe: cfg.line_search == LineSearch::StrongWolfe,
            negate: cfg.maximize,
        })
    }
}

/// One round of L-BFGS's reverse communication, `torch.optim.LBFGS` step for step (the
/// module documentation gives the algorithm). `params` is the point where the caller
/// evaluated `loss` and `grads`; when the answer is [`LbfgsRequest::Evaluate`] `params` hold
/// the next point to evaluate, when it is [`LbfgsRequest::Done`] they hold the step's result
/// and the next call starts the next step. A `LBFGS.step(closure)` is:
/// ```
/// use optkern::{LbfgsConfig, LbfgsRequest, LbfgsState, lbfgs_step, lbfgs_work_len};
/// // f(x) = Σ (x_i − i)² / 2
/// let loss_and_grad = |x: &[f64], g: &mut [f64]| {
///     let mut f = 0.0;
///     for (i, (gi, xi)) in g.iter_mut().zip(x).enumerate() {
///         *gi = xi - i as f64;
///         f += *gi * *gi / 2.0;
///     }
///     f
/// };
/// let cfg = LbfgsConfig::default();
/// let (mut x, mut g) = (vec![0.0f64; 5], vec![0.0f64; 5]);
/// let mut work = vec![0.0f64; lbfgs_work_len(x.len(), &cfg)];
/// let mut state = LbfgsState::default();
/// loop {
///     let f = loss_and_grad(&x, &mut g);
///     if lbfgs_step(&mut x, f, &g, &mut work, &mut state, &cfg)? == LbfgsRequest::Done {
///         break;
///     }
/// }
/// assert!(x.iter().enumerate().all(|(i, xi)| (xi - i as f64).abs() < 1e-9));
/// # Ok::<(), optkern::Error>(())
/// ```
///
/// # Errors
/// [`Error::LengthMismatch`] if `grads` is not as long as `params` or `work` is shorter than
/// [`lbfgs_work_len`]; [`Error::InvalidHyperparameter`] for an option out of range, and with
/// `name` `"state"` for a state that does not belong to this run (another length or history
/// size, a phase it cannot be in, or a line search in progress with a config without one).
/// **Nothing is written when an error is returned.**
pub fn lbfgs_step<T: LbfgsReal>(
    params: &mut [T],
    loss: f64,
    grads: &[T],
    work: &mut [T],
    state: &mut LbfgsState,
    cfg: &LbfgsConfig,
) -> Result<LbfgsRequest, Error> {
    let n = params.len();
    validate::len("grads", n, grads.len())?;
    let need = lbfgs_work_len(n, cfg);
    if work.len() < need {
        return Err(Error::LengthMismatch { arg: "work", expected: need, found: work.len() });
    }
    let o = Opts::from_config(cfg)?;
    let bad_state = |value: f64| Error::InvalidHyperparameter {
        name: "state",
        value,
        problem: Problem::Conflict,
    };
    if !state_fits(state, n, cfg, o.wolfe) {
        return Err(bad_state(f64::from(state.phase)));
    }
    let short = Error::LengthMismatch { arg: "work", expected: need, found: work.len() };
    let mut w = Work::split(work, n, o.h, o.wolfe).ok_or(short)?;
    state.n = n as u64;
    state.history_size = cfg.history_size;
    let f = if o.negate { -loss } else { loss };
    state.func_evals = state.func_evals.saturating_add(1);
    let mut m = Machine { o: &o, s: state, w: &mut w, params, grads };
    Ok(match m.s.phase {
        IDLE => {
            m.s.evals = 1;
            if m.max_abs_grad(Grad::Caller) <= o.tol_grad {
                LbfgsRequest::Done
            } else {
                m.s.iter = 0;
                m.iterate(f, Grad::Caller)
            }
        }
        FIXED => {
            m.s.evals = m.s.evals.saturating_add(1);
            m.after_step(f, Grad::Caller)
        }
        phase => {
            m.s.evals = m.s.evals.saturating_add(1);
            match m.line_search(phase, f) {
                Some(request) => request,
                None => {
                    let ls = m.s.ls;
                    let low = ls.low as usize & 1;
                    let t = ls.bracket[low];
                    m.s.t = t;
                    m.move_from_start(t);
                    m.after_step(ls.bracket_f[low], Grad::Slot(ls.slot[low]))
                }
            }
        }
    })
}

/// Whether `state` can be this run's: a phase it can be in, and once started the same length
/// and history size, a history and line search whose indices are in range. (A state is
/// plain data a C caller may hand back damaged; no index it holds is trusted.)
fn state_fits(s: &LbfgsState, n: usize, cfg: &LbfgsConfig, wolfe: bool) -> bool {
    let ls = &s.ls;
    let started = s.n_iter > 0;
    s.phase <= ZOOM
        && (s.phase < BRACKET || wolfe)
        && (s.phase == IDLE || started)
        && (!started
            || (s.n == n as u64
                && s.history_size == cfg.history_size
                && s.history_len <= s.history_size
                && s.history_start < s.history_size))
        && (s.phase < BRACKET
            || (ls.prev_slot <= START
                && ls.slot.iter().all(|&k| k <= START)
                && ls.low <= 1
                && (ls.len == 1 || ls.len == 2)
                && ls.done <= 1
                && ls.insuf_progress <= 1))
}

/// One call's view of everything.
struct Machine<'m, 'a, T> {
    o: &'m Opts,
    s: &'m mut LbfgsState,
    w: &'m mut Work<'a, T>,
    params: &'m mut [T],
    grads: &'m [T],
}

impl<T: LbfgsReal> Machine<'_, '_, T> {
    // The vector loops are zipped iterators over slices of exactly `n`, and ring indices are
    // reduced with `checked_rem`: no index can fail, so the C library has no panic path here.

    /// The gradient `src` names: a slice of `n` and whether it is negated as read (maximize,
    /// on the caller's). A slot a damaged state named would be empty, never out of bounds.
    fn view(&self, src: Grad) -> (&[T], bool) {
        grad_view(src, self.grads, self.w.prev_g, self.w.slots, self.o.negate)
    }

    fn max_abs_grad(&self, src: Grad) -> f64 {
        let (g, _) = self.view(src);
        g.iter().fold(0.0f64, |m, x| python_max(m, x.to_f64().abs()))
    }

    /// `g·d` rounded to the run's type.
    fn gtd(&self, src: Grad) -> f64 {
        let (g, neg) = self.view(src);
        let sign = if neg { -1.0 } else { 1.0 };
        round::<T>(sign * dot(g, self.w.d))
    }

    /// A new direction at the point with loss `f` and gradient `g`, then the fixed step or
    /// the line search's first trial (torch's loop body up to the evaluation).
    fn iterate(&mut self, f: f64, g: Grad) -> LbfgsRequest {
        let h = self.o.h;
        self.s.iter = self.s.iter.saturating_add(1);
        self.s.n_iter = self.s.n_iter.saturating_add(1);
        if self.s.n_iter == 1 {
            let (gv, neg) = grad_view(g, self.grads, self.w.prev_g, self.w.slots, self.o.negate);
            for (d, &x) in self.w.d.iter_mut().zip(gv) {
                *d = if neg { x } else { -x };
            }
            self.s.history_len = 0;
            self.s.history_start = 0;
            self.s.h_diag = 1.0;
        } else {
            // y = g − g_prev, s = t·d, both in the run's type.
            let t = self.s.t;
            let w = &mut *self.w;
            let (gv, neg) = grad_view(g, self.grads, w.prev_g, w.slots, self.o.negate);
            let gi = |x: T| if neg { -x.to_f64() } else { x.to_f64() };
            let (mut ys, mut yy) = (0.0, 0.0);
            for ((&x, p), d) in gv.iter().zip(w.prev_g.iter()).zip(w.d.iter()) {
                let y = round::<T>(gi(x) - p.to_f64());
                let s = round::<T>(d.to_f64() * t);
                ys += y * s;
                yy += y * y;
            }
            let (ys, yy) = (round::<T>(ys), round::<T>(yy));
            if ys > 1e-10 {
                let len = self.s.history_len as usize;
                let start = self.s.history_start as usize;
                let slot = if len == h {
                    self.s.history_start = ring(start + 1, h) as u32;
                    start
                } else {
                    self.s.history_len = self.s.history_len.saturating_add(1);
                    ring(start + len, h)
                };
                let n = w.d.len();
                let dirs = w.dirs.get_mut(slot * n..slot * n + n).unwrap_or_default();
                let stps = w.stps.get_mut(slot * n..slot * n + n).unwrap_or_default();
                for ((((ys_y, ys_s), &x), p), d) in dirs
                    .iter_mut()
                    .zip(stps.iter_mut())
                    .zip(gv)
                    .zip(w.prev_g.iter())
                    .zip(w.d.iter())
                {
                    *ys_y = T::from_f64(gi(x) - p.to_f64());
                    *ys_s = T::from_f64(d.to_f64() * t);
                }
                if let Some(r) = w.ro.get_mut(slot) {
                    *r = T::from_f64(1.0 / ys);
                }
                self.s.h_diag = round::<T>(ys / yy);
            }
            self.two_loop(g);
        }
        // g_prev = g (a copy unless g is already g_prev).
        match g {
            Grad::Slot(START) => {}
            Grad::Slot(k) => {
                let n = self.w.prev_g.len();
                let k = k as usize;
                let from = self.w.slots.get(k * n..k * n + n).unwrap_or_default();
                for (p, &x) in self.w.prev_g.iter_mut().zip(from) {
                    *p = x;
                }
            }
            Grad::Caller => {
                for (p, &x) in self.w.prev_g.iter_mut().zip(self.grads) {
                    *p = if self.o.negate { -x } else { x };
                }
            }
        }
        self.s.prev_loss = f;
        self.s.t = if self.s.n_iter == 1 {
            let l1 = self.w.prev_g.iter().fold(0.0, |a, x| a + x.to_f64().abs());
            let r = round::<T>(1.0 / round::<T>(l1));
            if r < 1.0 { round::<T>(r * self.o.lr) } else { self.o.lr }
        } else {
            self.o.lr
        };
        // prev_g now holds g: read it from there (the caller's or a slot's copy).
        let gtd = self.gtd(Grad::Slot(START));
        if gtd > -self.o.tol_change {
            return self.finish();
        }
        let t = self.s.t;
        if self.o.wolfe {
            for (x0, &p) in self.w.x0.iter_mut().zip(self.params.iter()) {
                *x0 = p;
            }
            let d_norm = self.w.d.iter().fold(0.0f64, |m, x| python_max(m, x.to_f64().abs()));
            self.s.ls = LineSearchState {
                max_ls: self.o.max_eval.saturating_sub(self.s.evals),
                ls_iter: 0,
                len: 2,
                low: 0,
                prev_slot: START,
                slot: [START, START],
                insuf_progress: 0,
                done: 0,
                f0: f,
                gtd0: gtd,
                d_norm,
                t,
                t_prev: 0.0,
                f_prev: f,
                gtd_prev: gtd,
                bracket: [0.0; 2],
                bracket_f: [0.0; 2],
                bracket_gtd: [0.0; 2],
            };
            self.move_from_start(t);
            self.s.phase = BRACKET;
            return LbfgsRequest::Evaluate;
        }
        for (p, d) in self.params.iter_mut().zip(self.w.d.iter()) {
            *p = T::from_f64(p.to_f64() + t * d.to_f64());
        }
        if self.s.iter == self.o.max_iter {
            // torch does not evaluate after the last iteration's step.
            return self.finish();
        }
        self.s.phase = FIXED;
        LbfgsRequest::Evaluate
    }

    /// The two-loop recursion: `d ← H·(−g)` from the history, oldest pair first in the second
    /// loop.
    fn two_loop(&mut self, g: Grad) {
        let (h, len, start) =
            (self.o.h, self.s.history_len as usize, self.s.history_start as usize);
        let w = &mut *self.w;
        let n = w.d.len();
        let (gv, neg) = grad_view(g, self.grads, w.prev_g, w.slots, self.o.negate);
        for (q, &x) in w.d.iter_mut().zip(gv) {
            *q = if neg { x } else { -x };
        }
        let q = &mut *w.d;
        let scalar = |v: &[T], j: usize| v.get(j).map_or(0.0, |x| x.to_f64());
        for k in (0..len).rev() {
            let j = ring(start + k, h);
            let (s, y) = (pair(w.stps, j, n), pair(w.dirs, j, n));
            let sq = round::<T>(dot(s, q));
            let al = round::<T>(sq * scalar(w.ro, j));
            if let Some(a) = w.al.get_mut(j) {
                *a = T::from_f64(al);
            }
            for (qi, yi) in q.iter_mut().zip(y) {
                *qi = T::from_f64(qi.to_f64() - al * yi.to_f64());
            }
        }
        let h_diag = self.s.h_diag;
        for r in q.iter_mut() {
            *r = T::from_f64(r.to_f64() * h_diag);
        }
        for k in 0..len {
            let j = ring(start + k, h);
            let (s, y) = (pair(w.stps, j, n), pair(w.dirs, j, n));
            let be = round::<T>(round::<T>(dot(y, q)) * scalar(w.ro, j));
            let coef = round::<T>(scalar(w.al, j) - be);
            for (ri, si) in q.iter_mut().zip(s) {
                *ri = T::from_f64(ri.to_f64() + coef * si.to_f64());
            }
        }
    }

    /// torch's checks after a step's evaluation (`f`, `g` at the new point).
    fn after_step(&mut self, f: f64, g: Grad) -> LbfgsRequest {
        if self.s.iter == self.o.max_iter
            || self.s.evals >= self.o.max_eval
            || self.max_abs_grad(g) <= self.o.tol_grad
        {
            return self.finish();
        }
        let t = self.s.t;
        let step =
            self.w.d.iter().fold(0.0f64, |m, d| python_max(m, round::<T>(d.to_f64() * t).abs()));
        if step <= self.o.tol_change || (f - self.s.prev_loss).abs() < self.o.tol_change {
            return self.finish();
        }
        self.iterate(f, g)
    }

    fn finish(&mut self) -> LbfgsRequest {
        self.s.phase = IDLE;
        LbfgsRequest::Done
    }

    /// `params = x₀ + t·d`.
    fn move_from_start(&mut self, t: f64) {
        for ((p, x), d) in self.params.iter_mut().zip(self.w.x0.iter()).zip(self.w.d.iter()) {
            *p = T::from_f64(x.to_f64() + t * d.to_f64());
        }
    }

    /// Copies the caller's gradient into a work slot other than `keep`; returns the slot.
    fn keep_grad(&mut self, keep: u32) -> u32 {
        let slot: u32 = if keep == 0 { 1 } else { 0 };
        let n = self.params.len();
        let k = slot as usize;
        let to = self.w.slots.get_mut(k * n..k * n + n).unwrap_or_default();
        for (s, &x) in to.iter_mut().zip(self.grads) {
            *s = if self.o.negate { -x } else { x };
        }
        slot
    }

    /// Requests the trial at step `t`.
    fn trial(&mut self, t: f64, phase: u32) -> Option<LbfgsRequest> {
        self.s.ls.t = t;
        self.s.ls.ls_iter = self.s.ls.ls_iter.saturating_add(1);
        self.move_from_start(t);
        self.s.phase = phase;
        Some(LbfgsRequest::Evaluate)
    }

    /// Takes the trial's evaluation (`f_new` and the caller's gradient at `x₀ + t·d`):
    /// `Some(request)` for another trial, `None` when the search is over (the bracket's low
    /// end is the result).
    fn line_search(&mut self, phase: u32, f_new: f64) -> Option<LbfgsRequest> {
        const C1: f64 = 1e-4;
        const C2: f64 = 0.9;
        let gtd_new = self.gtd(Grad::Caller);
        let mut ls = self.s.ls;
        let t = ls.t;
        let armijo_fails = |f_new: f64| f_new > ls.f0 + C1 * t * ls.gtd0;
        if phase == BRACKET {
            if ls.ls_iter < ls.max_ls {
                let sufficient = !(armijo_fails(f_new) || (ls.ls_iter > 1 && f_new >= ls.f_prev));
                if sufficient && gtd_new.abs() <= -C2 * ls.gtd0 {
                    // The strong Wolfe conditions hold at t.
                    let slot = self.keep_grad(ls.prev_slot);
                    ls.bracket = [t, t];
                    ls.bracket_f = [f_new, f_new];
                    ls.slot = [slot, slot];
                    ls.len = 1;
                    ls.done = 1;
                } else if !sufficient || gtd_new >= 0.0 {
                    // A minimiser lies between the previous trial and t.
                    let slot = self.keep_grad(ls.prev_slot);
                    ls.bracket = [ls.t_prev, t];
                    ls.bracket_f = [ls.f_prev, f_new];
                    ls.bracket_gtd = [ls.gtd_prev, gtd_new];
                    ls.slot = [ls.prev_slot, slot];
                } else {
                    let (lo, hi) = (t + 0.01 * (t - ls.t_prev), t * 10.0);
                    let next = round::<T>(cubic(
                        ls.t_prev,
                        ls.f_prev,
                        ls.gtd_prev,
                        t,
                        f_new,
                        gtd_new,
                        (lo, hi),
                    ));
                    ls.prev_slot = self.keep_grad(ls.prev_slot);
                    ls.t_prev = t;
                    ls.f_prev = f_new;
                    ls.gtd_prev = gtd_new;
                    self.s.ls = ls;
                    return self.trial(next, BRACKET);
                }
            } else {
                // Out of trials while bracketing: [0, t].
                let slot = self.keep_grad(START);
                ls.bracket = [0.0, t];
                ls.bracket_f = [ls.f0, f_new];
                ls.slot = [START, slot];
            }
            let last = if ls.len == 1 { 0 } else { 1 };
            ls.low = u32::from(ls.bracket_f[0] > ls.bracket_f[last]);
            ls.insuf_progress = 0;
        } else {
            let (low, high) = (ls.low as usize & 1, (ls.low as usize & 1) ^ 1);
            if armijo_fails(f_new) || f_new >= ls.bracket_f[low] {
                ls.slot[high] = self.keep_grad(ls.slot[low]);
                ls.bracket[high] = t;
                ls.bracket_f[high] = f_new;
                ls.bracket_gtd[high] = gtd_new;
                ls.low = u32::from(ls.bracket_f[0] > ls.bracket_f[1]);
            } else {
                if gtd_new.abs() <= -C2 * ls.gtd0 {
                    ls.done = 1;
                } else if gtd_new * (ls.bracket[high] - ls.bracket[low]) >= 0.0 {
                    ls.bracket[high] = ls.bracket[low];
                    ls.bracket_f[high] = ls.bracket_f[low];
                    ls.bracket_gtd[high] = ls.bracket_gtd[low];
                    ls.slot[high] = ls.slot[low];
                }
                ls.slot[low] = self.keep_grad(ls.slot[high]);
                ls.bracket[low] = t;
                ls.bracket_f[low] = f_new;
                ls.bracket_gtd[low] = gtd_new;
            }
        }
        self.s.ls = ls;
        // The zoom: the next trial, unless done, out of trials or the bracket is too small.
        if ls.done != 0 || ls.ls_iter >= ls.max_ls {
            return None;
        }
        let [b0, b1] = ls.bracket;
        if (b1 - b0).abs() * ls.d_norm < 1e-9 {
            return None;
        }
        let [f0, f1] = ls.bracket_f;
        let [g0, g1] = ls.bracket_gtd;
        let mut t =
            round::<T>(cubic(b0, f0, g0, b1, f1, g1, (python_min(b0, b1), python_max(b0, b1))));
        let (lo, hi) = (python_min(b0, b1), python_max(b0, b1));
        let eps = 0.1 * (hi - lo);
        if python_min(hi - t, t - lo) < eps {
            if ls.insuf_progress != 0 || t >= hi || t <= lo {
                t = if (t - hi).abs() < (t - lo).abs() { hi - eps } else { lo + eps };
                self.s.ls.insuf_progress = 0;
            } else {
                self.s.ls.insuf_progress = 1;
            }
        } else {
            self.s.ls.insuf_progress = 0;
        }
        self.trial(t, ZOOM)
    }
}

/// The gradient `src` names, as a slice, and whether it is negated as read (maximize, on the
/// caller's): the caller's, the start gradient `prev_g`, or work slot 0 or 1 (empty if a
/// damaged state names another: never out of bounds).
fn grad_view<'v, T>(
    src: Grad,
    grads: &'v [T],
    prev_g: &'v [T],
    slots: &'v [T],
    negate: bool,
) -> (&'v [T], bool) {
    let n = prev_g.len();
    match src {
        Grad::Caller => (grads, negate),
        Grad::Slot(START) => (prev_g, false),
        Grad::Slot(k) => (slots.get(k as usize * n..k as usize * n + n).unwrap_or_default(), false),
    }
}

/// Pair `j` of a history ring of `n`-vectors (empty if out of range: never a panic).
fn pair<T>(v: &[T], j: usize, n: usize) -> &[T] {
    v.get(j * n..j * n + n).unwrap_or_default()
}

/// `i mod h` for the history ring (`h ≥ 1` is validated; 0 would give 0, not a panic).
fn ring(i: usize, h: usize) -> usize {
    i.checked_rem(h).unwrap_or(0)
}

/// `Σ aᵢbᵢ` in f64, in index order.
fn dot<T: LbfgsReal>(a: &[T], b: &[T]) -> f64 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x.to_f64() * y.to_f64())
}

/// Python's `max(a, b)`: `b` only if `b > a` (a NaN `a` stays).
fn python_max(a: f64, b: f64) -> f64 {
    if b > a { b } else { a }
}

/// Python's `min(a, b)`: `b` only if `b < a`.
fn python_min(a: f64, b: f64) -> f64 {
    if b < a { b } else { a }
}

/// torch's `_cubic_interpolate`: the minimiser of the cubic through `(x1, f1, g1)` and
/// `(x2, f2, g2)`, clamped to `bounds`, or the bounds' midpoint when it has none.
fn cubic(x1: f64, f1: f64, g1: f64, x2: f64, f2: f64, g2: f64, bounds: (f64, f64)) -> f64 {
    let (lo, hi) = bounds;
    let d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2);
    let d2_square = d1 * d1 - g1 * g2;
    if d2_square >= 0.0 {
        let d2 = libm::sqrt(d2_square);
        let min_pos = if x1 <= x2 {
            x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
        } else {
            x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
        };
        python_min(python_max(min_pos, lo), hi)
    } else {
        (lo + hi) / 2.0
    }
}
