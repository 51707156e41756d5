"""Encoder configuration: every option of the public API and the CLI, validated in one place."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace

from bitstream.container import NN_LF_NUM_TRANSFORMS
from bitstream.errors import InputError
from host.encoder.search import FAST_RDOQ_TRIALS

MODES = ("hybrid", "host", "nn")
NN_FLAG_CODINGS = ("contexts", "one", "bypass")     # nn_flag_coding 0, 1, 2
NN_LEVELS = 8
AUTO_PATCH_SIZE = 256       # patches chosen when a picture does not fit the memory budget in one piece
MAX_PATCH_OVERLAP = 256


@dataclass(frozen=True)
class EncoderConfig:
    qp: int = 32                    # 0..51, step size doubles every 6
    mode: str = "hybrid"            # hybrid: host and NN compete per CU; host or nn: one path only
    chroma_format: str = "420"      # for RGB input: "420" or "444"; gray input is always 4:0:0
    internal_bit_depth: int = 10    # bit depth the picture is coded at (bit_depth_minus8): 8 or 10; 0: the
                                    # input's (8-bit input at 8, 16-bit and 10-bit YCbCr at 10).  The output
                                    # keeps the input's bit depth; 10 for 8-bit pictures: -1.4 % BD-rate
    ctu_size: int = 128             # 128 or 64
    min_cu_size: int = 4            # 4 allows NxN intra partitions (four 4x4 luma blocks), or 8
    max_tu_size: int = 32           # 32, or 64 (with high-frequency zero-out)
    max_ts_size: int = 32           # transform skip for transform blocks up to this size (4..32; 0: off)
    ts_screen_detect: bool = True   # transform skip only on pictures detected as screen content
    cclm: bool = True               # chroma predicted from luma (cross-component linear model)
    sign_hiding: bool = True        # sign data hiding: one sign per coefficient sub-block from parity
    dep_quant: bool = False         # dependent (trellis-coded) quantisation; replaces sign hiding when on
    deblocking: bool = True
    alf: bool = True                # adaptive loop filter (Wiener filters in the header) after the neural one
    dst4: bool = True               # DST-VII for 4x4 luma blocks
    context_init: bool = True       # CABAC contexts start from the trained table (context_init_flag)
    rdoq: bool = True               # rate-distortion optimised quantisation (measured: -6 to -7 % BD-rate)
    rd_modes: int = 3               # luma modes of the SATD shortlist that get a full RD check
    # Encoder speed heuristics; measured on 4 dev pictures at QP 22..37 (BD-rate with PSNR-Y):
    zero_cbf_split_stop: bool = True   # don't try splitting a CU coded without residual: +0.00 %, ~5 % faster
    large_cu_bottom_up: bool = True    # CUs above max_tu_size: split first, whole CU only if no quadrant
                                       # splits further: +0.17 %, ~20 % faster
    chroma_rd_modes: int = 5           # chroma modes (best by SATD) given a full RD check, 1..5;
                                       # 2: +0.45 %, ~7 % faster
    fast_rdoq: tuple[str, ...] = ("nxn", "chroma")   # mode trials that quantise plainly, RDOQ (or the DQ
                                    # trellis) coding the chosen mode only: of "luma" (2Nx2N), "nxn" (4x4
                                    # blocks), "chroma"; True: all three, False or (): RDOQ in every trial
    nxn_skip_residual_free: bool = True   # no NxN trial where the 8x8 CU's best 2Nx2N luma has no residual
    nxn_skip_bits: float = 0.0      # no NxN trial where the 8x8 CU's best 2Nx2N luma costs fewer bits
    nxn_rd_modes: int = 3           # rd_modes of the 4x4 blocks in an NxN trial
    search_workers: int = 0         # processes searching host-only pictures' CTU rows in a wavefront;
                                    # 0: one per torch thread (--threads), i.e. per core by default.
                                    # Any count gives the same bitstream (host.encoder.wavefront)
    level: int = 4                  # neural-tool rate level 0..7 (mode "nn"); higher = more bits
    nn_model: str = "hyperprior-4p" # block codec: a plugin name (`hybridcodec models`) or a built-in-architecture .npz
    nn_rdoq_scale: float = 4.0      # latent RDOQ: weight of its distortion estimate (nntools.encoder.rdoq.RDOQ_SCALE,
                                    # kept here as a literal so that the config loads without torch); 0: rounding
    # Hybrid mode (the NN level follows from the QP through the model's Level_Map):
    nn_decision: str = "cu"         # "cu": every CU of 32x32 or more may be NN-coded; "ctu": whole CTUs only
    nn_flag_coding: str = "contexts"  # nn_compress_flag: "contexts" (size x neighbours), "one", "bypass"
    nn_delta_level: bool = False    # per-CTU nn_delta_level chosen by the encoder
    nn_deblocking: bool = True      # deblock the edges of NN-coded CUs
    nn_residual: bool = False       # NN CUs may code the residual of a planar prediction (¶176-180)
    nn_dc: bool = False             # NN CUs may code the samples minus a separately coded DC (¶181)
    nn_cbcr_separate: bool = False  # NN CUs may leave their chroma to the host (nn_compress_flag_cbcr, ¶159-160)
    nn_level_offset: int = 0        # added to Level_Map[QP] (picture header), -8..8
    nn_picture_check: bool = False  # also try coding the whole picture with the NN; keep the lower J
    host_picture_check: bool = True # also code the picture host-only (nn_compress_enable_flag = 0); keep the lower J
    # Whole-picture NN coding as patches (mode "nn" and the whole-picture check; seed 003):
    nn_patch_size: int = 0          # 0: automatic (one piece if it fits memory_budget_mb, else patches of
                                    # AUTO_PATCH_SIZE); 64 .. 2048 (a power of two): patches of that size
    nn_patch_overlap: int = 32      # luma samples around each patch its analysis sees (encoder-only), even;
                                    # 32 covers g_a's reach, so the latents continue across patch borders
    memory_budget_mb: int = 3072    # peak memory the encoder plans for; larger pictures: InputError
    # Online optimisation of the NN coding (encoder-only, seed 000; decoder unchanged):
    nn_refine_steps: int = 0        # gradient steps on λ·D + R per NN-coded picture or CU candidate
    nn_refine_lr: tuple[float, ...] = (0.02,)   # latents: in quantisation steps; several: lowest J kept
    nn_refine_target: str = "latents"   # "latents" (y) or "module" (pre-processing conv in front of g_a)
    nn_refine_stop_mse: float = 0.0 # stop early once the MSE (samples in [0, 1]) is below this
    nn_refine_rounding: str = "sga" # "sga": stochastic Gumbel annealing; "ste": straight-through rounding
    nn_refine_hyper: bool = False   # also tune the hyper-latent z
    # Encoder simplifications of the NN trial (measured in docs/RESULTS.md):
    nn_min_variance: float = 0.0    # skip the NN trial on CUs whose luma variance is below this
    nn_max_host_cost: float = 0.0   # skip it where the host J per luma sample is below this
    nn_sizes: tuple[int, ...] = (32, 64, 128)   # CU sizes given an NN trial
    # Neural loop filter after deblocking (modes host and hybrid; docs/SYNTAX.md §9):
    nn_loop_filter: bool = True     # False: nn_lf_enabled_flag = 0
    nn_lf_model: str = "cnnlf-32x8" # loop-filter weights (a name from nntools.loop_filter.zoo or a .npz path)
    nn_lf_ctu_flags: bool = True    # per-CTU flags allowed (else each component is off or on everywhere)
    nn_lf_scale: bool = True        # least-squares residual scale per component (else 1.0)
    nn_lf_chroma: bool = True       # filter chroma too (4:2:0)
    nn_lf_transforms: int = 4       # network runs averaged over flips/transposes (NnLfNumTransforms: 1, 2, 4, 8)

    def __post_init__(self) -> None:
        object.__setattr__(self, "fast_rdoq", _trial_kinds(self.fast_rdoq))
        checks = [
            (isinstance(self.qp, int) and 0 <= self.qp <= 51, f"qp must be an integer 0..51, got {self.qp!r}"),
            (self.mode in MODES, f"mode must be one of {MODES}, got {self.mode!r}"),
            (self.chroma_format in ("420", "444"), f"chroma_format must be '420' or '444', got {self.chroma_format!r}"),
            (self.internal_bit_depth in (0, 8, 10),
             f"internal_bit_depth must be 0, 8 or 10, got {self.internal_bit_depth!r}"),
            (self.ctu_size in (64, 128), f"ctu_size must be 64 or 128, got {self.ctu_size!r}"),
            (self.min_cu_size in (4, 8), f"min_cu_size must be 4 or 8, got {self.min_cu_size!r}"),
            (self.max_tu_size in (32, 64), f"max_tu_size must be 32 or 64, got {self.max_tu_size!r}"),
            (self.max_tu_size <= self.ctu_size, "max_tu_size must not exceed ctu_size"),
            (self.max_ts_size in (0, 4, 8, 16, 32), f"max_ts_size must be 0, 4, 8, 16 or 32, got {self.max_ts_size!r}"),
            (isinstance(self.rd_modes, int) and 1 <= self.rd_modes <= 35, "rd_modes must be 1..35"),
            (isinstance(self.nxn_rd_modes, int) and 1 <= self.nxn_rd_modes <= 35, "nxn_rd_modes must be 1..35"),
            (self.nxn_skip_bits >= 0, "nxn_skip_bits must be >= 0"),
            (set(self.fast_rdoq) <= set(FAST_RDOQ_TRIALS), f"fast_rdoq must be a bool or kinds from {FAST_RDOQ_TRIALS}"),
            (isinstance(self.search_workers, int) and 0 <= self.search_workers <= 64, "search_workers must be 0..64"),
            (isinstance(self.chroma_rd_modes, int) and 1 <= self.chroma_rd_modes <= 5,
             "chroma_rd_modes must be 1..5"),
            (isinstance(self.zero_cbf_split_stop, bool), "zero_cbf_split_stop must be a bool"),
            (isinstance(self.large_cu_bottom_up, bool), "large_cu_bottom_up must be a bool"),
            (isinstance(self.level, int) and 0 <= self.level < NN_LEVELS, f"level must be 0..{NN_LEVELS - 1}"),
            (self.nn_decision in ("cu", "ctu"), f"nn_decision must be 'cu' or 'ctu', got {self.nn_decision!r}"),
            (self.nn_flag_coding in NN_FLAG_CODINGS, f"nn_flag_coding must be one of {NN_FLAG_CODINGS}"),
            (isinstance(self.nn_level_offset, int) and -8 <= self.nn_level_offset <= 8,
             "nn_level_offset must be -8..8"),
            (self.nn_min_variance >= 0 and self.nn_max_host_cost >= 0, "NN skip thresholds must be >= 0"),
            (len(self.nn_sizes) > 0 and set(self.nn_sizes) <= {32, 64, 128}, "nn_sizes must be from 32, 64, 128"),
            (self.nn_patch_size in (0, 64, 128, 256, 512, 1024, 2048), "nn_patch_size must be 0 or 64..2048"),
            (isinstance(self.nn_patch_overlap, int) and self.nn_patch_overlap % 2 == 0
             and 0 <= self.nn_patch_overlap <= MAX_PATCH_OVERLAP,
             f"nn_patch_overlap must be even and 0..{MAX_PATCH_OVERLAP}"),
            (isinstance(self.memory_budget_mb, int) and self.memory_budget_mb >= 512, "memory_budget_mb must be >= 512"),
            (self.nn_rdoq_scale >= 0, "nn_rdoq_scale must be >= 0"),
            (isinstance(self.nn_refine_steps, int) and self.nn_refine_steps >= 0, "nn_refine_steps must be >= 0"),
            (len(self.nn_refine_lr) > 0 and all(lr > 0 for lr in self.nn_refine_lr), "nn_refine_lr must be > 0"),
            (self.nn_refine_target in ("latents", "module"), "nn_refine_target must be 'latents' or 'module'"),
            (self.nn_refine_rounding in ("ste", "sga"), "nn_refine_rounding must be 'ste' or 'sga'"),
            (isinstance(self.nn_refine_hyper, bool), "nn_refine_hyper must be a bool"),
            (all(isinstance(v, bool) for v in (self.nn_loop_filter, self.nn_lf_ctu_flags, self.nn_lf_scale,
                                               self.nn_lf_chroma)), "nn_loop_filter / nn_lf_* switches must be bools"),
            (type(self.nn_lf_transforms) is int and self.nn_lf_transforms in NN_LF_NUM_TRANSFORMS,
             f"nn_lf_transforms must be one of {NN_LF_NUM_TRANSFORMS}, got {self.nn_lf_transforms!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise InputError(message)

    def refine_config(self):
        from nntools.encoder.refine import RefineConfig
        return RefineConfig(self.nn_refine_steps, tuple(self.nn_refine_lr), self.nn_refine_target,
                            self.nn_refine_stop_mse, self.nn_refine_rounding, self.nn_refine_hyper)

    @classmethod
    def from_options(cls, **options) -> "EncoderConfig":
        return cls().with_options(**options)

    def with_options(self, **options) -> "EncoderConfig":
        unknown = set(options) - {f.name for f in fields(self)}
        if unknown:
            raise InputError(f"unknown encoder option(s): {', '.join(sorted(unknown))}")
        return replace(self, **options)


def _trial_kinds(value) -> tuple[str, ...]:
    """``fast_rdoq`` as a tuple of trial kinds: True/"all" all of them, False/"none" none, a
    comma-separated string or a sequence the kinds named."""
    if value is True or value == "all":
        return FAST_RDOQ_TRIALS
    if value is False or value in ("none", ""):
        return ()
    if isinstance(value, str):
        value = value.split(",")
    try:
        return tuple(str(v).strip() for v in value)
    except TypeError:
        raise InputError(f"fast_rdoq must be a bool or kinds from {FAST_RDOQ_TRIALS}, got {value!r}") from None
