"""anomalib's GANomaly trained and scored on a split the harness exported (the peer side).

    python experiments/peers/anomalib_ganomaly.py SPLIT.npz SCORES.npz --seed 0 --epochs 15 \
        --batch-size 32

Run by `experiments/run.py` for a `Peer` row, in the Python named by GANAD_PEER_PYTHON (or the
harness's own), with the `peers` extra installed (`pip install -e ".[peers]"`). It imports numpy,
torch and anomalib only, never ganad_jax: the split arrives as `train`, `validation` and `test`
arrays (N, H, W, C) in [-1, 1], exactly as the harness's own runs read them, and the scores go
back as `validation` and `test` arrays with the versions that ran.

The model is anomalib's Lightning module `anomalib.models.Ganomaly` at its defaults (64 filters,
nz 100, loss weights 1/50/1, Adam 2e-4 with betas (0.5, 0.999)) with `batch_size` set to the
loader's, trained by a Lightning `Trainer` with the module's own `trainer_arguments`, its
`training_step` and `configure_optimizers`, for `--epochs` epochs of full batches (the last partial
batch of an epoch is dropped, as the harness's own training does, so both make the same number
of updates). What this script sets that anomalib would otherwise set from its data module:

- the pre-processor is a resize to the split's own size (an identity on these images, checked
  below) in place of anomalib's default resize to 256 and ImageNet normalisation: both models
  read the same [-1, 1] pixels, and anomalib's module takes its input size from this transform;
- anomalib's module is built for three input channels (`num_input_channels=3`), so a grayscale
  split is repeated over three channels;
- no post-processor, evaluator or visualizer: the harness evaluates the raw scores (anomalib
  min-max normalises them, which changes no ranking), and no validation during training.

The score is the module's inference output, `pred_score` = mean((z - z')^2), with the model in
eval mode (BatchNorm on its running statistics).
"""

from __future__ import annotations

import argparse
import sys

import numpy as np


def main(argv: list[str] | None = None) -> int:
    """Train on the split's training images and write validation and test scores."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("split", help="npz with train, validation and test arrays (N, H, W, C)")
    parser.add_argument("scores", help="npz to write: validation and test scores, versions")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args(argv)

    import anomalib
    import lightning
    import torch
    from anomalib.data import ImageBatch
    from anomalib.models import Ganomaly
    from anomalib.pre_processing import PreProcessor
    from torchvision.transforms import v2

    lightning.seed_everything(args.seed, workers=True)
    split = np.load(args.split)
    images = {name: _to_torch(split[name], torch) for name in ("train", "validation", "test")}
    size = tuple(images["train"].shape[-2:])
    resize = v2.Resize(size)
    if not torch.equal(resize(images["train"][:2]), images["train"][:2]):
        raise RuntimeError("the size-preserving resize changed the images")

    model = Ganomaly(
        batch_size=args.batch_size,
        pre_processor=PreProcessor(transform=resize),
        post_processor=False,
        evaluator=False,
        visualizer=False,
    )
    loader = torch.utils.data.DataLoader(
        images["train"],
        batch_size=args.batch_size,
        shuffle=True,
        drop_last=True,
        collate_fn=lambda xs: ImageBatch(image=torch.stack(xs)),
        generator=torch.Generator().manual_seed(args.seed),
    )
    trainer = lightning.Trainer(
        max_epochs=args.epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=False,
        limit_val_batches=0,
        deterministic=True,
        **model.trainer_arguments,
    )
    trainer.fit(model, train_dataloaders=loader)

    model.eval()
    scores = {}
    with torch.no_grad():
        for name in ("validation", "test"):
            parts = [
                model.model(images[name][i : i + 256]).pred_score
                for i in range(0, len(images[name]), 256)
            ]
            scores[name] = torch.cat(parts).numpy().astype(np.float64)
    np.savez(
        args.scores,
        **scores,
        updates=np.int64(trainer.global_step // 2),  # two optimizer steps per update
        versions=np.array(
            f"anomalib {anomalib.__version__}, lightning {lightning.__version__}, "
            f"torch {torch.__version__}"
        ),
    )
    return 0


def _to_torch(x: np.ndarray, torch):
    """(N, H, W, C) in [-1, 1] -> (N, 3, H, W) float32, grayscale repeated over 3 channels."""
    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(0, 3, 1, 2)
    return t.repeat(1, 3, 1, 1) if t.shape[1] == 1 else t


if __name__ == "__main__":
    sys.exit(main())
