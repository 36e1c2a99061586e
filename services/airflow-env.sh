# Airflow's configuration for this project, from the environment (sourced by services/airflow.sh and the
# Makefile's pipeline target). Home, logs and the JWT secret under DATA_DIR; metadata in the project's
# PostgreSQL cluster (database `airflow`), so the LocalExecutor can run tasks in parallel.
export AIRFLOW_HOME="$DATA_DIR/airflow"
mkdir -p "$AIRFLOW_HOME" "$LOG_DIR/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$REPO_ROOT/airflow/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__EXECUTOR=LocalExecutor
export AIRFLOW__CORE__PARALLELISM=4
export AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT=60
export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin"
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE="$AIRFLOW_HOME/simple_auth_manager_passwords.json.generated"
# The UI's bind address: loopback, unless told (a container publishes it with AIRFLOW_HOST=0.0.0.0).
export AIRFLOW__API__HOST="${AIRFLOW_HOST:-127.0.0.1}"
export AIRFLOW__API__PORT="${AIRFLOW_PORT:-8080}"
export AIRFLOW__API__BASE_URL="http://127.0.0.1:${AIRFLOW_PORT:-8080}"
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:${AIRFLOW_PORT:-8080}/execution/"
export AIRFLOW__LOGGING__BASE_LOG_FOLDER="$LOG_DIR/airflow"
# task logs may quote connection strings: readable by their owner only
export AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS=0o600
export AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS=0o700
export AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK=False
export AIRFLOW__COSMOS__ENABLE_TELEMETRY=False
export DBT_SEND_ANONYMOUS_USAGE_STATS=False DO_NOT_TRACK=1
export DBT_PROFILES_DIR="$REPO_ROOT" DBT_PROJECT_DIR="$REPO_ROOT/dbt_imdb"
# secrets generated once per DATA_DIR, never committed
if [ ! -f "$AIRFLOW_HOME/secrets.env" ]; then
  umask 077
  printf 'export AIRFLOW__API_AUTH__JWT_SECRET=%s\nexport AIRFLOW__API__SECRET_KEY=%s\nexport AIRFLOW__CORE__FERNET_KEY=%s\n' \
    "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" "$("$VENV/bin/python" -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')" \
    >"$AIRFLOW_HOME/secrets.env"
fi
. "$AIRFLOW_HOME/secrets.env"
if [ -z "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-}" ]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN="postgresql+psycopg2://${PG_WRITER_USER:-imdb_writer}:${PG_WRITER_PASSWORD:?PG_WRITER_PASSWORD is not set (make setup writes it to .env)}@${PG_HOST:-127.0.0.1}:${PG_PORT:-5433}/airflow"
fi
