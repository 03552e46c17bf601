"""Ticket triage: a text classifier trained on the user's own tickets, with confidences that
mean something.

The model, all scikit-learn:

- **features**: word uni- and bigrams and character 2-5-grams (TF-IDF, sublinear) of the text
  columns joined, plus one-hot categorical columns (priority, channel, ...);
- **label**: a class-balanced linear SVM, so rare groups are predicted too (macro-F1);
- **confidence**: a second model, trained on out-of-fold predictions, estimating the chance
  that the label is right from the score, the margin to the runner-up, how often that label
  was right out of fold, and the text's length. Ranking by it is what lets one model route
  many tickets alone at a high precision (coverage at precision) while the label stays
  balanced. Per-label thresholds for a target precision come from the same out-of-fold
  predictions.

Quality is reported on a stratified held-out split (20%) with the plain baseline (word TF-IDF +
logistic regression) computed on the same split; the model that is kept is then refitted on
every row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from conveyor.decide import DecideError

__all__ = [
    "PRECISIONS",
    "TriageModel",
    "coverage_at_precision",
    "evaluate",
    "train",
]

PRECISIONS = (0.8, 0.9, 0.95)
MIN_ROWS = 20
_SEED = 20261124
Progress = Callable[[str, float], None]


def _texts(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[str]:
    out = []
    for r in rows:
        parts = [str(r.get(c) or "").strip() for c in columns]
        out.append(" . ".join(p for p in parts if p and p.lower() not in ("nan", "none")))
    return out


def _cats(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> list[list[str]]:
    return [[str(r.get(c)) if r.get(c) is not None else "" for c in columns] for r in rows]


def coverage_at_precision(correct: np.ndarray, confidence: np.ndarray, precision: float) -> tuple[float, float | None]:
    """The largest share of items, taken most confident first, whose precision is still at least
    ``precision``; and the confidence of the last item taken (the threshold), None if none."""
    if len(correct) == 0:
        return 0.0, None
    order = np.argsort(-confidence, kind="stable")
    running = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    ok = np.flatnonzero(running >= precision - 1e-12)
    if len(ok) == 0:
        return 0.0, None
    k = int(ok.max()) + 1
    return k / len(order), float(confidence[order][k - 1])


def _curve(correct: np.ndarray, confidence: np.ndarray, points: int = 20) -> list[dict[str, float]]:
    """Precision of the most confident items at each coverage 5%, 10%, ..., 100%."""
    order = np.argsort(-confidence, kind="stable")
    c, conf = correct[order], confidence[order]
    out = []
    for i in range(1, points + 1):
        k = max(1, round(len(c) * i / points))
        out.append(
            {
                "coverage": round(k / len(c), 4),
                "precision": round(float(c[:k].mean()), 4),
                "threshold": round(float(conf[k - 1]), 4),
            }
        )
    return out


def _calibration_error(correct: np.ndarray, confidence: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: how far the confidence is from the share right, weighted."""
    edges = np.linspace(0, 1, bins + 1)
    idx = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    err = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            err += m.mean() * abs(float(correct[m].mean()) - float(confidence[m].mean()))
    return round(err, 4)


@dataclass
class _Features:
    """Word and character TF-IDF of the joined text, one-hot categoricals."""

    word: Any
    char: Any
    cat: Any | None

    @classmethod
    def fit(cls, texts: list[str], cats: list[list[str]]) -> _Features:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import OneHotEncoder

        min_df = 2 if len(texts) >= 500 else 1
        word = TfidfVectorizer(sublinear_tf=True, min_df=min_df, ngram_range=(1, 2), max_features=200_000)
        char = TfidfVectorizer(
            sublinear_tf=True, min_df=min_df, analyzer="char_wb", ngram_range=(2, 5), max_features=100_000
        )
        try:
            word.fit(texts)
            char.fit(texts)
        except ValueError:
            raise DecideError(
                "the text columns hold no words to learn from",
                hint="check --text names the columns with the tickets' subject and description",
            ) from None
        cat = None
        if cats and cats[0]:
            cat = OneHotEncoder(handle_unknown="ignore").fit(np.array(cats, dtype=object))
        return cls(word, char, cat)

    def transform(self, texts: list[str], cats: list[list[str]]) -> tuple[Any, Any]:
        """(all features, the word block alone for explanations)."""
        from scipy.sparse import hstack

        w = self.word.transform(texts)
        blocks = [w, self.char.transform(texts)]
        if self.cat is not None:
            blocks.append(self.cat.transform(np.array(cats, dtype=object)))
        return hstack(blocks, format="csr"), w


def _scores(clf: Any, X: Any, classes: np.ndarray) -> np.ndarray:
    """Decision scores aligned to ``classes`` (a fold may lack some: they score very low)."""
    raw = clf.decision_function(X)
    if raw.ndim == 1:
        raw = np.c_[-raw, raw]
    out = np.full((X.shape[0], len(classes)), -10.0)
    pos = np.searchsorted(classes, clf.classes_)
    out[:, pos] = raw
    return out


def _meta_features(scores: np.ndarray, label_precision: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    top2 = np.sort(scores, axis=1)[:, -2:] if scores.shape[1] > 1 else np.c_[scores, scores]
    pred = scores.argmax(1)
    return np.column_stack([top2[:, 1], top2[:, 1] - top2[:, 0], top2[:, 0], label_precision[pred], np.log1p(lengths)])


def _svm(X: Any, y: np.ndarray) -> Any:
    """The class-balanced linear SVM, fitted. (An iteration cap reached on a hard fold is not
    worth a warning: the held-out figures say how good the model is.)"""
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.svm import LinearSVC

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LinearSVC(C=0.5, class_weight="balanced", max_iter=5000, random_state=_SEED).fit(X, y)


@dataclass
class _Fitted:
    features: _Features
    clf: Any
    classes: np.ndarray
    meta: Any | None
    constant: float
    label_precision: np.ndarray
    thresholds: dict[str, dict[str, float]]
    oof: dict[str, float]


def _fit(
    texts: list[str], cats: list[list[str]], y: np.ndarray, progress: Progress | None, share: tuple[float, float]
) -> _Fitted:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold

    classes = np.unique(y)
    lengths = np.array([len(t) for t in texts], dtype=float)
    lo, hi = share
    # out-of-fold scores: what the model says about tickets it has not seen
    counts = {c: int((y == c).sum()) for c in classes}
    folds = max(2, min(5, len(y) // 10))
    strat = np.array([c if counts[c] >= folds else "_rare" for c in y], dtype=object)
    if (strat == "_rare").sum() < folds:
        strat[strat == "_rare"] = max(counts, key=lambda c: counts[c])
    oof = np.zeros((len(y), len(classes)))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=_SEED)
    # The vocabulary and IDF are learned once from every row (no labels involved), the classifier
    # per fold: the scores are out of fold for the label, which is what the confidence model needs.
    fe = _Features.fit(texts, cats)
    X, _ = fe.transform(texts, cats)
    for i, (a, b) in enumerate(splitter.split(texts, strat)):
        if progress:
            progress(f"out-of-fold scores {i + 1}/{folds}", lo + (hi - lo) * 0.8 * i / folds)
        if len(np.unique(y[a])) < 2:
            continue
        oof[b] = _scores(_svm(X[a], y[a]), X[b], classes)
    pred = classes[oof.argmax(1)]
    right = (pred == y).astype(float)
    # how often each label is right when proposed (smoothed, so a label proposed once is not 100%)
    label_precision = np.array([(right[pred == c].sum() + 1) / ((pred == c).sum() + 2) for c in classes], dtype=float)
    F = _meta_features(oof, label_precision, lengths)
    meta, constant = None, float(right.mean())
    if 0 < right.sum() < len(right):
        if len(y) >= 300:
            meta = HistGradientBoostingClassifier(
                max_iter=200, learning_rate=0.05, max_leaf_nodes=15, random_state=_SEED
            ).fit(F, right)
        else:
            meta = LogisticRegression(max_iter=1000).fit(F, right)
    conf = meta.predict_proba(F)[:, 1] if meta is not None else np.full(len(y), constant)
    thresholds: dict[str, dict[str, float]] = {}
    for c in classes:
        m = pred == c
        if m.sum() < 5:
            continue
        for p in PRECISIONS:
            _, t = coverage_at_precision(right[m], conf[m], p)
            if t is not None:
                thresholds.setdefault(str(c), {})[str(p)] = round(t, 4)
    if progress:
        progress("fitting the model on every row", lo + (hi - lo) * 0.85)
    clf = _svm(X, y)
    oof_cov = {str(p): round(coverage_at_precision(right, conf, p)[0], 4) for p in PRECISIONS}
    return _Fitted(
        fe,
        clf,
        classes,
        meta,
        constant,
        label_precision,
        thresholds,
        {"accuracy": round(float(right.mean()), 4), **{f"coverage_{k}": v for k, v in oof_cov.items()}},
    )


@dataclass
class Prediction:
    label: str | None
    confidence: float
    words: list[str] = field(default_factory=list)
    runner_up: str | None = None


@dataclass
class TriageModel:
    """A trained triage model: what it reads, how it decides, and its training rows (for
    similar past tickets)."""

    text: list[str]
    label: str
    categorical: list[str]
    fitted: _Fitted
    history: dict[str, Any]
    """For similar tickets: ``matrix`` (word TF-IDF of the training rows), ``labels``, ``ids``,
    ``texts`` (shortened), ``extra`` (outcome columns: resolution, time to resolve)."""

    @property
    def labels(self) -> list[str]:
        return [str(c) for c in self.fitted.classes]

    def _inputs(self, rows: Sequence[Mapping[str, Any]]) -> tuple[list[str], list[list[str]]]:
        return _texts(rows, self.text), _cats(rows, self.categorical)

    def _vocab(self) -> np.ndarray:
        """The word features' names, built once (a model answers many single-ticket calls)."""
        vocab = self.__dict__.get("_vocab_cache")
        if vocab is None:
            vocab = self.__dict__["_vocab_cache"] = self.fitted.features.word.get_feature_names_out()
        return vocab  # type: ignore[no-any-return]

    def predict(self, rows: Sequence[Mapping[str, Any]], *, explain: int = 0) -> list[Prediction]:
        import sklearn

        # the inputs are ours and checked: skip scikit-learn's per-call validation (most of a
        # single ticket's time)
        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            return self._predict(rows, explain)

    def _predict(self, rows: Sequence[Mapping[str, Any]], explain: int) -> list[Prediction]:
        f = self.fitted
        texts, cats = self._inputs(rows)
        X, W = f.features.transform(texts, cats)
        S = _scores(f.clf, X, f.classes)
        lengths = np.array([len(t) for t in texts], dtype=float)
        conf = (
            f.meta.predict_proba(_meta_features(S, f.label_precision, lengths))[:, 1]
            if f.meta is not None
            else np.full(len(texts), f.constant)
        )
        best = S.argmax(1)
        order = np.argsort(-S, axis=1)
        out = []
        vocab = self._vocab() if explain else None
        n_word = W.shape[1]
        coef = f.clf.coef_
        for i, t in enumerate(texts):
            if not t and not any(cats[i]):
                out.append(Prediction(None, 0.0))
                continue
            words: list[str] = []
            if explain:
                row = W[i]
                k = best[i] if coef.shape[0] > 1 else 0
                sign = 1.0 if coef.shape[0] > 1 or best[i] == 1 else -1.0
                contrib = row.multiply(coef[k, :n_word] * sign).tocoo()
                top = sorted(zip(contrib.data, contrib.col, strict=True), reverse=True)[:explain]
                words = [str(vocab[c]) for v, c in top if v > 0] if vocab is not None else []
            runner = str(f.classes[order[i, 1]]) if S.shape[1] > 1 else None
            out.append(Prediction(str(f.classes[best[i]]), round(float(conf[i]), 4), words, runner))
        return out

    def similar(self, row: Mapping[str, Any], *, k: int = 3) -> list[dict[str, Any]]:
        """The ``k`` training tickets whose words are closest to ``row``'s (cosine), with their label
        and outcome columns."""
        h = self.history
        if h.get("matrix") is None or h["matrix"].shape[0] == 0:
            return []
        texts, _ = self._inputs([row])
        if not texts[0]:
            return []
        import sklearn

        with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
            q = self.fitted.features.word.transform(texts)
        sims = (h["matrix"] @ q.T).toarray().ravel()
        top = np.argsort(-sims, kind="stable")[:k]
        out = []
        for j in top:
            if sims[j] <= 0:
                break
            item = {
                "id": h["ids"][j],
                self.label: h["labels"][j],
                "similarity": round(float(sims[j]), 3),
                "text": h["texts"][j],
            }
            for col, values in h.get("extra", {}).items():
                item[col] = values[j]
            out.append(item)
        return out


def _split(y: np.ndarray, test_size: float) -> tuple[np.ndarray, np.ndarray]:
    """A stratified held-out split; labels with one example stay in training."""
    rng = np.random.default_rng(_SEED)
    train: list[int] = []
    test: list[int] = []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_test = round(len(idx) * test_size) if len(idx) >= 2 else 0
        if len(idx) >= 2:
            n_test = max(1, min(n_test, len(idx) - 1))
        test.extend(idx[:n_test])
        train.extend(idx[n_test:])
    return np.array(sorted(train)), np.array(sorted(test))


def _check(
    rows: Sequence[Mapping[str, Any]], text: Sequence[str], label: str, categorical: Sequence[str], source: str
) -> None:
    if not rows:
        raise DecideError(f"{source}: no rows", hint="give a file or stream with labelled tickets")
    columns = set(rows[0])
    for col, opt in [*((c, "--text") for c in text), (label, "--label"), *((c, "--categorical") for c in categorical)]:
        if col not in columns:
            raise DecideError(f"{source}: {opt}: no column {col!r}", hint=f"its columns: {', '.join(sorted(columns))}")


def _plain_baseline(texts: list[str], y: np.ndarray, tr: np.ndarray, te: np.ndarray) -> dict[str, Any]:
    """Word TF-IDF + logistic regression, unweighted, its own probability as the confidence."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import f1_score

    vec = TfidfVectorizer(sublinear_tf=True, min_df=2 if len(tr) >= 500 else 1)
    Xtr = vec.fit_transform([texts[i] for i in tr])
    Xte = vec.transform([texts[i] for i in te])
    lr = LogisticRegression(max_iter=2000).fit(Xtr, y[tr])
    P = lr.predict_proba(Xte)
    pred = lr.classes_[P.argmax(1)]
    right = (pred == y[te]).astype(float)
    conf = P.max(1)
    return {
        "model": "word TF-IDF + logistic regression",
        "accuracy": round(float(right.mean()), 4),
        "macro_f1": round(float(f1_score(y[te], pred, average="macro", zero_division=0)), 4),
        "coverage_at_precision": {str(p): round(coverage_at_precision(right, conf, p)[0], 4) for p in PRECISIONS},
    }


def train(
    rows: Sequence[Mapping[str, Any]],
    *,
    text: Sequence[str],
    label: str,
    categorical: Sequence[str] = (),
    outcome: Sequence[str] = (),
    id_column: str | None = None,
    source: str = "the data",
    test_size: float = 0.2,
    baseline: bool = True,
    progress: Progress | None = None,
) -> tuple[TriageModel, dict[str, Any]]:
    """Train on ``rows`` (dicts); the model (refitted on every row) and its held-out evaluation."""
    started = time.perf_counter()
    _check(rows, text, label, categorical, source)
    kept = [r for r in rows if r.get(label) is not None and str(r.get(label)).strip() not in ("", "nan", "None")]
    dropped = len(rows) - len(kept)
    if len(kept) < MIN_ROWS:
        raise DecideError(
            f"{source}: {len(kept)} labelled rows; a triage model needs at least {MIN_ROWS}",
            hint=f"label more tickets in column {label!r}, or give a larger file",
        )
    y = np.array([str(r[label]) for r in kept], dtype=object)
    labels, counts = np.unique(y, return_counts=True)
    if len(labels) < 2:
        raise DecideError(
            f"{source}: every labelled row has {label} = {labels[0]!r}; there is nothing to tell apart",
            hint="a triage model needs at least two labels",
        )
    texts, cats = _texts(kept, text), _cats(kept, categorical)
    empty = sum(1 for t in texts if not t)
    tr, te = _split(y, test_size)
    if progress:
        progress("held-out evaluation: training on 80%", 0.02)
    held = _fit([texts[i] for i in tr], [cats[i] for i in tr], y[tr], progress, (0.02, 0.45))
    probe = TriageModel(list(text), label, list(categorical), held, {})
    metrics = evaluate(probe, [kept[i] for i in te]) if len(te) else {}
    if baseline and len(te):
        if progress:
            progress("the plain baseline on the same split", 0.47)
        metrics["baseline"] = _plain_baseline(texts, y, tr, te)
    if progress:
        progress("training on every row", 0.5)
    fitted = _fit(texts, cats, y, progress, (0.5, 0.97))
    history = {
        "matrix": fitted.features.word.transform(texts),
        "labels": y.tolist(),
        "ids": [str(r.get(id_column)) if id_column else str(i + 1) for i, r in enumerate(kept)],
        "texts": [t[:160] for t in texts],
        "extra": {c: [r.get(c) for r in kept] for c in outcome},
    }
    model = TriageModel(list(text), label, list(categorical), fitted, history)
    rare = [str(c) for c, n in zip(labels, counts, strict=True) if n < 2]
    info = {
        "rows": len(rows),
        "labelled": len(kept),
        "unlabelled_dropped": dropped,
        "empty_texts": empty,
        "labels": len(labels),
        "rare_labels": rare,
        "train_rows": len(tr),
        "test_rows": len(te),
        "thresholds": fitted.thresholds,
        "out_of_fold": fitted.oof,
        "seconds": round(time.perf_counter() - started, 2),
    }
    return model, {**metrics, "training": info}


def evaluate(model: TriageModel, rows: Sequence[Mapping[str, Any]], *, mistakes: int = 20) -> dict[str, Any]:
    """Quality on labelled ``rows``: accuracy, macro-F1, coverage at precision, per label,
    the precision-coverage curve, the confusion between labels and the most confident mistakes."""
    from sklearn.metrics import f1_score, precision_recall_fscore_support

    _check(rows, model.text, model.label, model.categorical, "the evaluation data")
    kept = [
        r for r in rows if r.get(model.label) is not None and str(r.get(model.label)).strip() not in ("", "nan", "None")
    ]
    if not kept:
        raise DecideError(f"no labelled rows (column {model.label!r}) to evaluate on")
    started = time.perf_counter()
    preds = model.predict(kept)
    seconds = time.perf_counter() - started
    y = np.array([str(r[model.label]) for r in kept], dtype=object)
    pred = np.array([p.label if p.label is not None else "" for p in preds], dtype=object)
    conf = np.array([p.confidence for p in preds], dtype=float)
    right = (pred == y).astype(float)
    known = set(model.labels)
    unseen = sorted({str(v) for v in y if v not in known})
    names = sorted(set(y) | (set(pred) - {""}))
    p, r, f, s = precision_recall_fscore_support(y, pred, labels=names, zero_division=0)
    per_label = [
        {
            "label": n,
            "precision": round(float(p[i]), 4),
            "recall": round(float(r[i]), 4),
            "f1": round(float(f[i]), 4),
            "support": int(s[i]),
            "predicted": int((pred == n).sum()),
        }
        for i, n in enumerate(names)
    ]
    per_label.sort(key=lambda d: (-d["support"], d["label"]))
    confusion: dict[str, dict[str, int]] = {}
    for t, q in zip(y, pred, strict=True):
        if t != q:
            row = confusion.setdefault(str(t), {})
            row[str(q) or "(none)"] = row.get(str(q) or "(none)", 0) + 1
    wrong = np.flatnonzero(right == 0)
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:mistakes]
    texts = _texts(kept, model.text)
    cov = {}
    thresholds = {}
    for prec in PRECISIONS:
        c, t = coverage_at_precision(right, conf, prec)
        cov[str(prec)] = round(c, 4)
        thresholds[str(prec)] = None if t is None else round(t, 4)
    return {
        "rows": len(kept),
        "accuracy": round(float(right.mean()), 4),
        "macro_f1": round(float(f1_score(y, pred, labels=names, average="macro", zero_division=0)), 4),
        "coverage_at_precision": cov,
        "thresholds_at_precision": thresholds,
        "calibration_error": _calibration_error(right, conf),
        "per_label": per_label,
        "curve": _curve(right, conf),
        "confusion": confusion,
        "unseen_labels": unseen,
        "mistakes": [
            {"text": texts[i][:200], "label": str(y[i]), "predicted": str(pred[i]), "confidence": float(conf[i])}
            for i in wrong
        ],
        "predict_ms_per_row": round(1000 * seconds / len(kept), 3),
    }


def explain(pred: Prediction, similar: list[dict[str, Any]], label_column: str) -> str:
    """One line a reviewer can check: the words, the runner-up and the closest past ticket."""
    parts = []
    if pred.words:
        parts.append("words: " + ", ".join(f"'{w}'" for w in pred.words))
    if similar:
        s = similar[0]
        parts.append(f"closest past ticket {s['id']} was {s[label_column]} (similarity {s['similarity']:.2f})")
    if pred.runner_up:
        parts.append(f"runner-up {pred.runner_up}")
    return "; ".join(parts) if parts else "no words the model knows"
