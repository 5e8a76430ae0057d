#!/usr/bin/env bash
# The real MLflow clients the compatibility tests drive against `relay server` (tests/e2e/test_mlflow_*):
# the latest 3.x that installs (3.18.0 needs mlflow-tracing 3.18.0, not on the registry yet; full
# `mlflow`, so the contract test can also start a real `mlflow server`) and the
# latest 2.x, each in its own virtual environment beside .venv (MLflow pins pyarrow<26 and older
# pandas, so it cannot share relayml's environment). Made once, with uv; silent when present.
set -euo pipefail
cd "$(dirname "$0")/.."

UV=.venv/bin/uv
MLFLOW3=${RELAY_MLFLOW3_VERSION:-3.17.2}
MLFLOW2=${RELAY_MLFLOW2_VERSION:-2.22.5}

make_env() {  # make_env DIR REQUIREMENT...
    local dir=$1
    shift
    if [[ -x $dir/bin/python && -e $dir/.complete ]]; then
        return 0
    fi
    echo "provision-mlflow-clients: making $dir ($*)"
    rm -rf "$dir"
    "$UV" venv -q --python "$(.venv/bin/python -c 'import sys; print(sys.executable)')" "$dir"
    VIRTUAL_ENV=$dir "$UV" pip install -q "$@"
    touch "$dir/.complete"
}

make_env .venv-mlflow3 "mlflow==$MLFLOW3" scikit-learn
make_env .venv-mlflow2 "mlflow==$MLFLOW2" scikit-learn
