# Reference numbers for trialdb.stats, computed with R's survival and cmprsk.
#
# Run from the repository root:   Rscript tests/r/reference.R
# Everything is written to tests/r/fixtures/ (data sets and results) as CSV
# with 17 significant digits, so the Python test-suite never needs R.
suppressPackageStartupMessages({
  library(survival)
  library(cmprsk)
})

out_dir <- file.path("tests", "r", "fixtures")
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

fmt <- function(df) {
  for (nm in names(df)) {
    if (is.double(df[[nm]])) {
      x <- df[[nm]]
      df[[nm]] <- ifelse(is.na(x), "NA", sprintf("%.17g", x))
    }
  }
  df
}

wcsv <- function(df, name) {
  write.csv(fmt(df), file.path(out_dir, name), row.names = FALSE, quote = FALSE)
}

# ---------------------------------------------------------------- versions
versions <- data.frame(
  component = c("R", "survival", "cmprsk"),
  version = c(paste(R.version$major, R.version$minor, sep = "."),
              as.character(packageVersion("survival")),
              as.character(packageVersion("cmprsk")))
)
write.csv(versions, file.path(out_dir, "versions.csv"), row.names = FALSE,
          quote = FALSE)

# ---------------------------------------------------------------- data sets
data_sets <- list()

# (a) survival::mgus2: progression to plasma cell malignancy (1) vs death
#     without progression (2), time in months.
m <- survival::mgus2
data_sets$mgus2 <- data.frame(
  id = m$id,
  time = ifelse(m$pstat == 1, m$ptime, m$futime),
  status = ifelse(m$pstat == 1, 1L, 2L * m$death),
  group = as.character(m$sex),
  age = m$age,
  male = as.integer(m$sex == "M"),
  hgb = m$hgb,
  creat = m$creat,
  mspike = m$mspike
)

# (b) heavy ties: integer days 0..90, three causes, 2 groups.
set.seed(20240601)
n <- 600
data_sets$ties <- data.frame(
  id = seq_len(n),
  time = sample(0:90, n, replace = TRUE),
  status = sample(0:3, n, replace = TRUE, prob = c(0.35, 0.3, 0.25, 0.1)),
  group = sample(c("A", "B"), n, replace = TRUE)
)

# (c) events (and one censoring) at time 0.
set.seed(7)
n <- 60
zero <- data.frame(
  id = seq_len(n),
  time = sample(0:20, n, replace = TRUE),
  status = sample(0:2, n, replace = TRUE),
  group = sample(c("A", "B"), n, replace = TRUE)
)
zero$time[1:5] <- 0
zero$status[1:5] <- c(1L, 1L, 2L, 0L, 1L)
zero$group[1:5] <- c("A", "B", "A", "B", "B")
data_sets$zero <- zero

# (d) at the last time everyone still at risk has an event.
set.seed(11)
n <- 50
alldie <- data.frame(
  id = seq_len(n),
  time = sample(1:30, n, replace = TRUE),
  status = sample(0:2, n, replace = TRUE),
  group = rep(c("A", "B"), length.out = n)
)
alldie$time[alldie$time >= 28] <- 27
alldie$time[1:4] <- 40L
alldie$status[1:4] <- c(1L, 1L, 2L, 1L)
alldie$time[5:6] <- 35L
alldie$status[5:6] <- c(1L, 1L)
data_sets$alldie <- alldie

# (e) one group in which cause 2 never occurs.
set.seed(13)
n <- 120
nocause <- data.frame(
  id = seq_len(n),
  time = sample(1:45, n, replace = TRUE),
  status = sample(0:2, n, replace = TRUE),
  group = rep(c("A", "B"), each = n / 2)
)
nocause$status[nocause$group == "B" & nocause$status == 2] <- 0L
data_sets$nocause <- nocause

# (f) three groups (and two strata) for Gray's test.
set.seed(17)
n <- 450
g <- sample(c("g1", "g2", "g3"), n, replace = TRUE)
rate1 <- c(g1 = 0.010, g2 = 0.016, g3 = 0.024)[g]
t1 <- rexp(n, rate1)
t2 <- rexp(n, 0.012)
tc <- runif(n, 20, 120)
tt <- pmin(t1, t2, tc)
data_sets$three <- data.frame(
  id = seq_len(n),
  time = floor(tt),
  status = ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L)),
  group = g,
  stratum = sample(c("s1", "s2"), n, replace = TRUE)
)

for (nm in names(data_sets)) wcsv(data_sets[[nm]], paste0(nm, ".csv"))

# ---------------------------------------------------------------- cuminc, survfit, Gray
cuminc_rows <- list()
survfit_rows <- list()
gray_rows <- list()

ms_fit <- function(d, conf_type) {
  survfit(Surv(time, factor(status, levels = c(0, sort(unique(status[status > 0]))))) ~ 1,
          data = d, conf.type = conf_type)
}

one_curve_set <- function(name, d, grp_label) {
  ci <- cuminc(d$time, d$status)
  for (cn in names(ci)) {
    if (cn == "Tests") next
    cause <- sub("^\\S+ ", "", cn)
    cuminc_rows[[length(cuminc_rows) + 1]] <<- data.frame(
      dataset = name, group = grp_label, cause = as.integer(cause),
      k = seq_along(ci[[cn]]$time),
      time = ci[[cn]]$time, est = ci[[cn]]$est, var = ci[[cn]]$var
    )
  }
  f_log <- ms_fit(d, "log")
  f_ll <- ms_fit(d, "log-log")
  f_pl <- ms_fit(d, "plain")
  states <- f_log$states
  for (j in seq_along(states)) {
    if (states[j] == "(s0)") next
    survfit_rows[[length(survfit_rows) + 1]] <<- data.frame(
      dataset = name, group = grp_label, cause = as.integer(states[j]),
      time = f_log$time, n_risk = f_log$n.risk[, 1],
      pstate = f_log$pstate[, j], std_err = f_log$std.err[, j],
      lower_log = f_log$lower[, j], upper_log = f_log$upper[, j],
      lower_loglog = f_ll$lower[, j], upper_loglog = f_ll$upper[, j],
      lower_plain = f_pl$lower[, j], upper_plain = f_pl$upper[, j],
      surv = f_log$pstate[, 1]
    )
  }
}

for (nm in c("mgus2", "ties", "zero", "alldie", "nocause", "three")) {
  d <- data_sets[[nm]]
  one_curve_set(nm, d, "(all)")
  for (gl in sort(unique(d$group))) {
    one_curve_set(nm, d[d$group == gl, ], gl)
  }
  ct <- cuminc(d$time, d$status, d$group)
  tests <- ct$Tests
  gray_rows[[length(gray_rows) + 1]] <- data.frame(
    dataset = nm, strata = "none", cause = as.integer(rownames(tests)),
    stat = tests[, "stat"], pv = tests[, "pv"], df = tests[, "df"]
  )
  if (!is.null(d$stratum)) {
    ct <- cuminc(d$time, d$status, d$group, strata = d$stratum)
    tests <- ct$Tests
    gray_rows[[length(gray_rows) + 1]] <- data.frame(
      dataset = nm, strata = "stratum", cause = as.integer(rownames(tests)),
      stat = tests[, "stat"], pv = tests[, "pv"], df = tests[, "df"]
    )
  }
}
wcsv(do.call(rbind, cuminc_rows), "cuminc.csv")
wcsv(do.call(rbind, survfit_rows), "survfit.csv")
wcsv(do.call(rbind, gray_rows), "gray.csv")

# ---------------------------------------------------------------- (g) covariates: crr, coxph
set.seed(23)
n <- 400
cov <- data.frame(
  id = seq_len(n),
  x1 = rbinom(n, 1, 0.4),
  x2 = rbinom(n, 1, 0.3),
  x3 = round(rnorm(n), 3),
  x4 = round(runif(n, 20, 80), 1)
)
lp1 <- 0.6 * cov$x1 - 0.4 * cov$x2 + 0.3 * cov$x3 + 0.01 * (cov$x4 - 50)
lp2 <- -0.3 * cov$x1 + 0.5 * cov$x2 - 0.2 * cov$x3
t1 <- rexp(n, 0.01 * exp(lp1))
t2 <- rexp(n, 0.008 * exp(lp2))
tc <- runif(n, 30, 200)
tt <- pmin(t1, t2, tc)
cov$time <- ceiling(tt / 3)   # coarse: many ties
cov$status <- ifelse(tt == t1, 1L, ifelse(tt == t2, 2L, 0L))
wcsv(cov, "cov.csv")

model_rows <- list()
add_model <- function(dataset, model, cause, coef, se,
                      extra = list(converged = TRUE, max_abs_score = NA_real_)) {
  model_rows[[length(model_rows) + 1]] <<- data.frame(
    dataset = dataset, model = model, cause = cause, term = names(coef),
    coef = unname(coef), se = unname(se),
    p = 2 * pnorm(-abs(unname(coef) / unname(se))),
    converged = extra$converged, max_abs_score = extra$max_abs_score
  )
}

fit_crr <- function(dataset, d, covs, cause) {
  z <- crr(d$time, d$status, as.matrix(d[, covs, drop = FALSE]), failcode = cause,
           cencode = 0, gtol = 1e-12, maxiter = 100)
  # With gtol = 1e-12 crr's step-halving line search usually stops on
  # floating-point noise in the log partial likelihood before the gradient
  # test passes (z$converged is FALSE); by then the score is ~1e-7 and the
  # coefficients are stable to ~1e-8, far below the 1e-6 the tests demand.
  add_model(dataset, "crr", cause, z$coef, sqrt(diag(z$var)),
            list(converged = z$converged, max_abs_score = max(abs(z$score))))
}

fit_cox <- function(dataset, d, covs, cause, ties) {
  f <- as.formula(paste("Surv(time, status == cause) ~", paste(covs, collapse = " + ")))
  z <- coxph(f, data = d, ties = ties,
             control = coxph.control(eps = 1e-11, iter.max = 100))
  add_model(dataset, paste0("coxph_", ties), cause, coef(z), sqrt(diag(vcov(z))))
}

covs <- c("x1", "x2", "x3", "x4")
for (cause in 1:2) {
  fit_crr("cov", cov, covs, cause)
  fit_cox("cov", cov, covs, cause, "efron")
  fit_cox("cov", cov, covs, cause, "breslow")
}

mg <- data_sets$mgus2
mg <- mg[complete.cases(mg[, c("age", "male", "hgb")]), ]
mcovs <- c("age", "male", "hgb")
for (cause in 1:2) {
  fit_crr("mgus2", mg, mcovs, cause)
  fit_cox("mgus2", mg, mcovs, cause, "efron")
  fit_cox("mgus2", mg, mcovs, cause, "breslow")
}

# Edge cases for crr: events and a censoring at time 0 (G(0) instead of
# G(0-) in crr's weights), and everyone at risk failing at the last time.
for (nm in c("zero", "alldie")) {
  d <- data_sets[[nm]]
  d$grpB <- as.integer(d$group == "B")
  for (cause in 1:2) fit_crr(nm, d, "grpB", cause)
}

# ---------------------------------------------------------------- (h) counting-process data
set.seed(29)
n_id <- 250
base <- data.frame(
  id = seq_len(n_id),
  x1 = rbinom(n_id, 1, 0.5),
  x3 = round(rnorm(n_id), 3)
)
end_day <- pmin(sample(5:120, n_id, replace = TRUE), 120)
end_status <- sample(0:2, n_id, replace = TRUE, prob = c(0.4, 0.4, 0.2))
switch_day <- sample(1:150, n_id, replace = TRUE)
rows <- list()
for (i in seq_len(n_id)) {
  if (switch_day[i] < end_day[i]) {
    rows[[i]] <- data.frame(id = i, start = c(0, switch_day[i]),
                            stop = c(switch_day[i], end_day[i]),
                            event = c(0L, end_status[i]), cmv = c(0L, 1L),
                            x1 = base$x1[i], x3 = base$x3[i])
  } else {
    rows[[i]] <- data.frame(id = i, start = 0, stop = end_day[i],
                            event = end_status[i], cmv = 0L,
                            x1 = base$x1[i], x3 = base$x3[i])
  }
}
long <- do.call(rbind, rows)
long$start <- as.double(long$start)
long$stop <- as.double(long$stop)
wcsv(long, "long.csv")

for (cause in 1:2) {
  for (ties in c("efron", "breslow")) {
    z <- coxph(Surv(start, stop, event == cause) ~ x1 + x3 + cmv, data = long,
               ties = ties, control = coxph.control(eps = 1e-11, iter.max = 100))
    add_model("long", paste0("coxph_", ties), cause, coef(z), sqrt(diag(vcov(z))))
  }
}

# Cause-specific Cox on the time-to-event data with start = 0 as well.
wcsv(do.call(rbind, model_rows), "models.csv")
cat("fixtures written to", out_dir, "\n")
