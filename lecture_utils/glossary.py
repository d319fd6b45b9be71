"""The course's English-Korean glossary: one table from which every notebook's glossary is made.

Each notebook (00 to 09) ends with a markdown cell ``## Glossary`` whose metadata lists the terms
it shows, ``cell.metadata["glossary"] = ["autoencoder", ...]`` (keys of :data:`TERMS`, in the
order shown). ``scripts/glossary.py --write`` regenerates those cells with
:func:`glossary_markdown`, and ``tests/test_glossary.py`` fails when a cell differs from what
this table gives. To add a term: one line in :data:`TERMS`, its key in the notebook's cell
metadata, then run the script.

The Korean follows what Korean ML texts and lecture notes use; where two names are common, the
usual one comes first and the other in brackets, so that both can be searched for. Used by the
glossary cells of every notebook (introduced in 00_welcome); nothing here runs in a notebook.
"""

from __future__ import annotations

from collections.abc import Sequence

HEADING = "## Glossary"
INTRO = (
    "The terms of this notebook in English and Korean, with a one-line meaning "
    "(the whole list lives in `lecture_utils/glossary.py`)."
)

# English term -> (Korean, a short meaning in English). Keys are shown as written.
TERMS: dict[str, tuple[str, str]] = {
    # 00 and 01: autoencoders
    "generative model": ("생성 모델", "a model we can draw new data from"),
    "autoencoder": ("오토인코더 (자기부호화기)", "a network trained to output its own input"),
    "encoder / decoder": (
        "인코더 / 디코더 (부호화기 / 복호화기)",
        "the halves that map an image to a code and a code back to an image",
    ),
    "bottleneck": ("병목", "the narrow layer that forces the code to be short"),
    "code, latent code": ("코드, 잠재 코드", "the few numbers z the encoder gives for an image"),
    "latent variable": ("잠재 변수", "an unobserved variable z that explains the data"),
    "feature, factor of variation": (
        "특징, 변동 요인",
        "a way the data varies, such as a digit's slant or stroke width",
    ),
    "dimensionality reduction": ("차원 축소", "describing data with fewer numbers"),
    "reconstruction error": ("재구성 오차", "how far the output x̂ is from the input x"),
    "principal component analysis (PCA)": (
        "주성분 분석",
        "the best linear projection onto K directions, in squared error",
    ),
    "principal component": ("주성분", "one of the directions PCA keeps"),
    "singular value decomposition (SVD)": (
        "특이값 분해",
        "the factorisation X = U S Vᵀ that computes PCA",
    ),
    "subspace": ("부분 공간", "a flat set of vectors through 0 (a line, a plane, ...)"),
    "principal angle": ("주각 (부분 공간 사이의 각)", "an angle that compares two subspaces"),
    "unsupervised learning": ("비지도 학습", "learning from data without labels"),
    "binarised": ("이진화된", "with every pixel set to 0 or 1"),
    "nat (unit of information, natural log)": (
        "nat (내트)",
        "the unit of a log-probability taken with the natural log; 1 nat = 1/ln 2 bits",
    ),
    # 02: the L2 loss
    "loss function": ("손실 함수", "the number training makes small"),
    "squared error, L2 loss": ("제곱 오차, L2 손실", "the sum or mean of (x̂ - x)²"),
    "absolute error, L1 loss": ("절대 오차, L1 손실", "the sum or mean of |x̂ - x|"),
    "binary cross-entropy": (
        "이진 교차 엔트로피",
        "-[x log x̂ + (1 - x) log(1 - x̂)], the Bernoulli NLL",
    ),
    "reduction (sum, mean)": ("집계 방식 (합, 평균)", "how a loss turns many errors into one"),
    "gradient": ("기울기 (그래디언트)", "the vector of partial derivatives"),
    "chain rule": ("연쇄 법칙", "the derivative of f(g(x)) is f'(g(x)) g'(x)"),
    "learning rate": ("학습률", "the step size of gradient descent"),
    "likelihood": ("가능도 (우도)", "p(data | θ) seen as a function of θ"),
    "likelihood / negative log-likelihood": (
        "가능도 (우도) / 음의 로그 가능도",
        "p(data | θ) as a function of θ / minus its log, a loss",
    ),
    "Gaussian (normal) distribution": ("가우시안 (정규) 분포", "the bell curve N(μ, σ²)"),
    "Laplace distribution": ("라플라스 분포", "density ∝ exp(-|x - μ| / b); its NLL is L1"),
    "Bernoulli distribution": ("베르누이 분포", "a coin flip: 1 with probability p, else 0"),
    "variance": ("분산", "E[(X - E X)²], the mean squared distance from the mean"),
    "median": ("중앙값", "the middle value; the minimiser of the L1 loss"),
    "blur": ("블러 (흐릿함)", "the soft look of an average of several sharp images"),
    # 03: reusing the encoder
    "label budget": ("레이블 예산", "how many labelled examples we may use"),
    "labelled / unlabelled data": ("레이블이 있는 / 없는 데이터", "examples with / without y"),
    "pretraining": ("사전 학습", "training on another task first (here: reconstruction)"),
    "fine-tuning": ("미세 조정", "training a pretrained network further on the real task"),
    "linear probing (linear probe)": (
        "선형 프로빙",
        "training only a linear classifier on frozen features",
    ),
    "freezing parameters": ("파라미터 고정 (동결)", "stopping the optimiser from changing them"),
    "head (classifier head)": ("헤드 (분류기 헤드)", "the last layers that output the class"),
    "logistic regression": ("로지스틱 회귀", "a linear classifier trained with cross-entropy"),
    "weight decay": ("가중치 감쇠", "a penalty that pulls the weights towards 0"),
    "convergence": ("수렴", "training has settled: the loss no longer falls"),
    "cross-entropy": ("교차 엔트로피", "-log of the probability given to the right class"),
    # statistics words (00, 04)
    "probability density function (pdf)": (
        "확률 밀도 함수",
        "p(x) whose integral over a region is the probability of that region",
    ),
    "expectation": ("기댓값", "E_p[f(x)], the p-weighted average of f"),
    "unbiased estimate": ("불편 추정량", "an estimate that is right on average"),
    "standard error": ("표준 오차", "the std of an estimate; std(g)/√S for a mean of S draws"),
    "i.i.d. (independent and identically distributed)": (
        "독립 동일 분포",
        "drawn independently from the same distribution",
    ),
    # 04: latent-variable models
    "generative story / ancestral sampling": (
        "생성 과정 / 조상 샘플링",
        "draw z ~ p(z), then x ~ p(x|z)",
    ),
    "prior": ("사전 분포", "p(z), the distribution of z before seeing x"),
    "posterior": ("사후 분포", "p(z|x), the distribution of z after seeing x"),
    "approximate posterior": ("근사 사후 분포", "q(z|x), a simple stand-in for p(z|x)"),
    "marginal likelihood, evidence": (
        "주변 가능도, 증거",
        "p(x) = ∫ p(x|z) p(z) dz, the probability of the data alone",
    ),
    "joint distribution": ("결합 분포", "p(x, z), the probability of x and z together"),
    "conditional probability": ("조건부 확률", "p(z|x) = p(x, z) / p(x)"),
    "product rule": ("곱의 법칙", "p(x, z) = p(x|z) p(z) = p(z|x) p(x)"),
    "sum rule, marginalisation": (
        "합의 법칙, 주변화",
        "p(x) = Σ_z p(x, z) (∫ for densities): summing a variable out",
    ),
    "Bayes' rule": ("베이즈 정리", "p(z|x) = p(x|z) p(z) / p(x), the product rule rearranged"),
    "Monte Carlo estimate": ("몬테카를로 추정", "an average over random draws"),
    "Kullback–Leibler (KL) divergence": (
        "쿨백-라이블러 발산",
        "D_KL(q‖p) = E_q[log q - log p] ≥ 0, zero only when q = p",
    ),
    "Jensen's inequality": (
        "젠센 부등식 (옌센 부등식)",
        "log E[w] ≥ E[log w], because log is concave",
    ),
    "concave": ("오목한 (위로 볼록)", "bending down: every chord lies below the curve"),
    "quadrature (numerical integration)": ("수치 적분", "an integral computed on a grid"),
    "importance sampling": (
        "중요도 샘플링",
        "E_p[f] = E_q[f p/q]: drawing from q and reweighting",
    ),
    "effective sample size": ("유효 표본 크기", "how many draws the weighted draws are worth"),
    "intractable": ("계산하기 어려운 (다루기 힘든)", "not computable in reasonable time"),
    # 05: MLE and the ELBO
    "maximum likelihood estimation (MLE)": (
        "최대 가능도 추정 (최대우도추정)",
        "choosing θ that maximises Σ_i log p_θ(x_i)",
    ),
    "log-likelihood": ("로그 가능도", "log p_θ(data), a sum over i.i.d. examples"),
    "entropy": ("엔트로피", "H(p) = -E_p[log p(x)], the average surprise"),
    "lower bound": ("하한", "a number guaranteed to be ≤ the quantity"),
    "evidence lower bound (ELBO), variational lower bound": (
        "증거 하한, 변분 하한",
        "E_q[log p(x, z) - log q(z|x)] ≤ log p(x)",
    ),
    "variational distribution $q$": ("변분 분포", "the q we optimise over a family"),
    "variational inference": (
        "변분 추론",
        "approximating p(z|x) by the best q of a family (maximising the ELBO)",
    ),
    "reverse / forward KL": (
        "역방향 / 순방향 KL",
        "KL(q‖p) is mode-seeking; KL(p‖q) is mass-covering",
    ),
    "linear-Gaussian model": ("선형 가우시안 모델", "z ~ N(0, I), x = W z + b + Gaussian noise"),
    "precision matrix": ("정밀도 행렬", "the inverse of a covariance matrix, Λ = Σ⁻¹"),
    "gap (of the bound)": ("(하한의) 간극", "log p(x) - ELBO = KL(q(z|x) ‖ p(z|x))"),
    "closed form": ("닫힌 형태 (해석적 해)", "an exact formula, no sampling or iteration"),
    "reconstruction term": ("재구성 항", "E_q[log p(x|z)], the ELBO's first term"),
    "diagonal / full covariance": (
        "대각 / 전체 공분산 (행렬)",
        "independent coordinates / any correlations",
    ),
    "gradient ascent": ("경사 상승법", "stepping along the gradient to maximise"),
    "probabilistic PCA": ("확률적 주성분 분석", "PCA as a linear-Gaussian latent model"),
    # 06: the VAE
    "variational autoencoder (VAE)": (
        "변분 오토인코더",
        "an encoder q_φ(z|x) and a decoder p_θ(x|z) trained on the ELBO",
    ),
    "amortised inference": (
        "분할 상환 추론 (amortized inference)",
        "one encoder network gives q(z|x) for every x, instead of fitting q per x",
    ),
    "reparameterization trick": (
        "재매개변수화 트릭 (재매개변수화 기법)",
        "z = μ + σ ε with ε ~ N(0, I), so gradients reach μ and σ",
    ),
    "score-function estimator (REINFORCE)": (
        "스코어 함수 추정량 (점수 함수 추정량)",
        "a gradient estimate via ∇ log q; unbiased but noisy",
    ),
    "gradient variance": ("그래디언트 분산", "how much a gradient estimate varies between draws"),
    "negative log-likelihood (NLL)": ("음의 로그 가능도", "-log p(x), a loss in nats"),
    "importance weight": ("중요도 가중치", "w = p(x|z) p(z) / q(z|x)"),
    "dynamic binarisation": ("동적 이진화", "a new coin flip per pixel at every epoch"),
    "KL warm-up (KL annealing)": (
        "KL 워밍업 (KL 어닐링)",
        "raising the KL term's weight from 0 to 1 early in training",
    ),
    "early stopping": ("조기 종료", "keeping the epoch with the best validation loss"),
    "learning-rate schedule": ("학습률 스케줄", "changing the learning rate during training"),
    "posterior collapse": ("사후 분포 붕괴", "q(z|x) = p(z): the code carries no information"),
    "per-dimension KL": (
        "차원별 KL",
        "each latent dimension's share of KL(q(z|x) || p(z)); the shares add up to the whole",
    ),
    "log importance weight": ("로그 중요도 가중치", "log p(x|z) + log p(z) - log q(z|x)"),
    "active units": ("활성 차원 (활성 유닛)", "latent dimensions whose μ_k(x) varies with x"),
    "bits per dimension (here, per pixel)": (
        "차원당 비트 (여기서는 픽셀당)",
        "NLL / (D ln 2), comparable across image sizes",
    ),
    # 07: the latent space
    "latent space": ("잠재 공간", "the space of codes z"),
    "latent traversal": ("잠재 공간 순회", "decoding codes along a path in latent space"),
    "linear interpolation (lerp)": ("선형 보간", "(1 - t) z₀ + t z₁"),
    "spherical interpolation (slerp)": ("구면 보간", "a path along a great circle"),
    "manifold": ("다양체 (매니폴드)", "a smooth low-dimensional surface inside a larger space"),
    "infinite variance": (
        "무한 분산",
        "E[w^2] is infinite: a standard error computed from samples of w means nothing",
    ),
    "mode-seeking / mass-covering": (
        "모드 탐색 / 질량 포괄",
        "KL(q||p) puts q on one peak of p; maximum likelihood makes a model cover all the data",
    ),
    "mutual information": (
        "상호 정보량",
        "I(x; z): how much the code tells about which image it came from, in nats",
    ),
    "whitening": ("백색화", "rescaling codes to mean 0 and identity covariance"),
    "aggregate posterior": (
        "집계 사후 분포",
        "q(z) = (1/N) Σ_n q(z|x_n), where the codes of all the data lie",
    ),
    "inverse CDF (quantile function)": (
        "역누적분포함수 (분위수 함수)",
        "the value below which a given fraction of the mass lies",
    ),
    "hole (in latent space)": ("(잠재 공간의) 빈 영역", "a region with few codes of real data"),
    "slant": ("기울어짐 (글자의 기울기)", "how far a digit leans to the right"),
    "least squares": ("최소제곱법", "fitting by minimising the sum of squared errors"),
    "widget": ("위젯", "an interactive control: a slider, a button"),
    # 08: diagnosing a VAE
    "likelihood ladder": (
        "가능도 사다리",
        "ELBO = L_1 ≤ L_5 ≤ ... ≤ log p(x): the bounds of more and more importance samples",
    ),
    "importance-weighted bound (IWAE bound)": (
        "중요도 가중 하한 (IWAE 하한)",
        "L_S = E[log (1/S) Σ_s w_s], tighter as S grows",
    ),
    "estimator bias": ("추정량의 편향", "how far an estimate's average lies from the true value"),
    "approximation gap": (
        "근사 간극",
        "log p(x) - ELBO of the best q in the family: the price of the family",
    ),
    "amortisation gap": (
        "분할 상환 간극 (amortization gap)",
        "ELBO of the best q minus the encoder's: the price of one encoder for all x",
    ),
    "free bits": (
        "프리 비트 (free bits)",
        "each latent dimension's first λ nats of KL cost nothing",
    ),
    "β-VAE": ("베타-VAE (β-VAE)", "a VAE trained on reconstruction + β × KL"),
    "rate / distortion": (
        "레이트 / 왜곡 (전송률 / 왜곡)",
        "the KL term / -E_q log p(x|z): the two terms of the negative ELBO",
    ),
    "rate-distortion plane": (
        "레이트-왜곡 평면 (율-왜곡 평면)",
        "runs as points (rate, distortion); -ELBO = rate + distortion",
    ),
    "factorised likelihood": (
        "인수분해된 가능도",
        "p(x|z) = Π_d p(x_d|z): pixels independent given z",
    ),
    # 09: conditional and semi-supervised VAEs
    "conditional VAE (CVAE)": (
        "조건부 VAE (CVAE)",
        "a VAE told the label: p(x|z, y), q(z|x, y) and the prior p(z)",
    ),
    "conditioning": ("조건화", "giving a model extra information y that it may use"),
    "one-hot vector": ("원-핫 벡터", "zeros with a single 1 at the position of the class"),
    "style (of a digit)": (
        "(숫자의) 스타일 (필체)",
        "what the label does not say: slant, stroke width, size",
    ),
    "semi-supervised learning": (
        "준지도 학습 (반지도 학습)",
        "learning from a few labelled and many unlabelled examples",
    ),
    "M1 (features from a VAE)": (
        "M1 (VAE 특징을 이용한 분류)",
        "a VAE trained without labels, and a classifier on its encoder means",
    ),
    "M2 (the label as a latent variable)": (
        "M2 (레이블을 잠재 변수로 둔 모델)",
        "p(y) p(z) p(x|y, z) with a classifier q(y|x); unlabelled examples train it through U(x)",
    ),
    "classification term (α)": (
        "분류 항 (α)",
        "α Σ log q(y|x) over the labelled examples: the classifier learns from the labels directly",
    ),
    "judge": (
        "판정 분류기",
        "a classifier trained on real examples that labels a generator's samples, to count how "
        "often the generator draws the class it was asked for",
    ),
    "standardised features": (
        "표준화된 특징",
        "features shifted and scaled to mean 0 and standard deviation 1 in every dimension, "
        "with the training set's mean and standard deviation",
    ),
    "M1+M2 (stacked)": (
        "M1+M2 (적층 모델)",
        "M2 trained on M1's features (a VAE's standardised encoder means) instead of the pixels",
    ),
    "generative classifier": (
        "생성 분류기",
        "a classifier from a generative model by Bayes' rule: p(y|x) ∝ p(x|y) p(y)",
    ),
}


def _cell(text: str) -> str:
    """One table cell: a ``|`` inside a term would split the column, so escape it."""
    return text.replace("|", "\\|")


def glossary_markdown(terms: Sequence[str]) -> str:
    """The source of a notebook's glossary cell listing ``terms`` (keys of :data:`TERMS`).

    Args:
        terms: the English terms, in the order the table shows them; no repeats.

    Returns:
        Markdown: the heading, one sentence, then a table English | 한국어 | meaning.
    """
    if isinstance(terms, str) or not isinstance(terms, Sequence):
        raise TypeError(f"terms must be a list of glossary keys, got {type(terms).__name__}")
    unknown = [t for t in terms if t not in TERMS]
    if unknown:
        raise ValueError(
            f"terms {unknown} are not in lecture_utils.glossary.TERMS; add a line "
            "'English: (Korean, meaning)' there first"
        )
    repeated = sorted({t for t in terms if list(terms).count(t) > 1})
    if repeated:
        raise ValueError(f"terms lists {repeated} more than once; list each term once")
    rows = [f"| {_cell(t)} | {_cell(TERMS[t][0])} | {_cell(TERMS[t][1])} |" for t in terms]
    return "\n".join([HEADING, INTRO, "", "| English | 한국어 | meaning |", "|---|---|---|", *rows])
