// How many standard errors a gain needs when the noise itself is estimated from few runs: the Student t
// quantile with the estimate's degrees of freedom, at the confidence that k standard errors give with a
// known noise. With 2 degrees of freedom (a baseline trained 3 times) k = 2 becomes 4.3; with many it
// tends to k. Plain arithmetic (deterministic in the workflow); degrees of freedom are whole numbers here.

/** P(Z <= z) for a standard normal (Abramowitz and Stegun 7.1.26, error below 1e-7). */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

/** P(T <= t) for Student's t with `df` (a whole number >= 1) degrees of freedom, in closed form. */
export function studentCdf(t: number, df: number): number {
  const theta = Math.atan(Math.abs(t) / Math.sqrt(df));
  const c2 = Math.cos(theta) ** 2;
  const s = Math.sin(theta);
  let inside: number;
  if (df % 2 === 1) {
    // Odd: (2/π)(θ + sinθ cosθ (1 + (2/3)cos²θ + (2·4)/(3·5)cos⁴θ + ...)), df − 2 terms' worth.
    let term = 1;
    let sum = df > 1 ? 1 : 0;
    for (let k = 1; k <= (df - 3) / 2; k++) {
      term *= ((2 * k) / (2 * k + 1)) * c2;
      sum += term;
    }
    inside = (2 / Math.PI) * (theta + s * Math.cos(theta) * sum);
  } else {
    // Even: sinθ (1 + (1/2)cos²θ + (1·3)/(2·4)cos⁴θ + ...).
    let term = 1;
    let sum = 1;
    for (let k = 1; k <= (df - 2) / 2; k++) {
      term *= ((2 * k - 1) / (2 * k)) * c2;
      sum += term;
    }
    inside = s * sum;
  }
  return t >= 0 ? (1 + inside) / 2 : (1 - inside) / 2;
}

/** The t value with the one-sided confidence of `k` normal standard errors, for `df` degrees of freedom. */
export function tMargin(k: number, df: number): number {
  if (!Number.isFinite(df) || df >= 1000) return k;
  const p = normalCdf(k);
  let lo = k;
  let hi = k;
  while (studentCdf(hi, df) < p) hi *= 2;
  for (let i = 0; i < 100 && hi - lo > 1e-9 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentCdf(mid, df) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
