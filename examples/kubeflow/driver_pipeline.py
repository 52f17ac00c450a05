"""A sample Kubeflow pipeline over the driver-stats quickstart: training set -> train -> register.

    python examples/kubeflow/driver_pipeline.py driver_pipeline.yaml   # compile; upload it to KFP

The entity rows (driver_id, event_timestamp, trip_completed) come in as a Dataset from
``entity_rows_uri`` (a Parquet or CSV file the cluster can read); ``training_set`` adds the
features as they were at each row's time; ``train`` fits a scikit-learn logistic
regression; ``register`` records the model with what it was trained on (features, project,
rows) in the pipeline's metadata store, ready for an InferenceService whose transformer
(``python -m larder.kserve``) reads the same features online. The image needs larder and
scikit-learn (see clients/python/KUBEFLOW.md).
"""

import os
import sys
from typing import Dict, List, NamedTuple

from kfp import compiler, dsl
from kfp.dsl import Dataset, Input, Metrics, Model, Output

from larder.kfp import DEFAULT_IMAGE, training_set

IMAGE = os.environ.get("LARDER_KFP_IMAGE", DEFAULT_IMAGE)
FEATURES = ["driver_hourly_stats:conv_rate", "driver_hourly_stats:acc_rate", "driver_hourly_stats:avg_daily_trips"]


@dsl.component(base_image=IMAGE)
def train(training_data: Input[Dataset], label: str, model: Output[Model], metrics: Output[Metrics]) -> None:
    """Logistic regression of label on every feature column of the training set."""
    import pickle

    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    frame = pd.read_parquet(training_data.path)
    columns = [c for c in frame.columns if c not in ("driver_id", "event_timestamp", label)]
    fitted = LogisticRegression().fit(frame[columns].fillna(0), frame[label])
    with open(model.path, "wb") as out:
        pickle.dump(fitted, out)
    model.metadata.update({"framework": "sklearn", "columns": columns, "label": label})
    metrics.log_metric("training_accuracy", float(fitted.score(frame[columns].fillna(0), frame[label])))
    metrics.log_metric("training_rows", len(frame))


@dsl.component(base_image=IMAGE)
def register(model: Input[Model], training_data: Input[Dataset], name: str, registered: Output[Model]) -> str:
    """The model, with the features and training set it came from, as the pipeline's
    registered output: what a transformer must read online is in its metadata."""
    import shutil

    shutil.copyfile(model.path, registered.path)
    registered.metadata.update(
        {
            "name": name,
            "framework": model.metadata.get("framework", ""),
            "columns": model.metadata.get("columns", []),
            "features": training_data.metadata.get("features", []),
            "project": training_data.metadata.get("project", ""),
            "training_rows": training_data.metadata.get("rows", 0),
            "training_data": training_data.uri,
        }
    )
    return registered.uri


@dsl.pipeline(name="driver-trip-model", description="Larder training set -> scikit-learn -> registered model")
def driver_pipeline(
    entity_rows_uri: str,
    project: str = "driver_stats",
    features: List[str] = FEATURES,
    addresses: Dict[str, str] = {},
    model_name: str = "driver-trip",
) -> NamedTuple("Outputs", [("training_data", Dataset), ("model", Model)]):  # type: ignore[valid-type]
    rows = dsl.importer(artifact_uri=entity_rows_uri, artifact_class=Dataset, reimport=False).set_display_name("entity rows")
    built = training_set(entity_data=rows.output, project=project, features=features, addresses=addresses)
    fitted = train(training_data=built.outputs["training_data"], label="trip_completed")
    done = register(model=fitted.outputs["model"], training_data=built.outputs["training_data"], name=model_name)
    outputs = NamedTuple("Outputs", [("training_data", Dataset), ("model", Model)])
    return outputs(built.outputs["training_data"], done.outputs["registered"])


if __name__ == "__main__":
    compiler.Compiler().compile(driver_pipeline, sys.argv[1] if len(sys.argv) > 1 else "driver_pipeline.yaml")
