# Conveyor's one image: web, every worker pool, beat and Flower run from it (docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    VAR_DIR=/app/var DJANGO_SETTINGS_MODULE=config.settings.prod DJANGO_READ_DOT_ENV_FILE=false
WORKDIR /app

# Dependencies first, at the exact versions the suite passed on: a code change reuses this layer.
COPY pyproject.toml constraints.txt ./
RUN mkdir -p apps bench config simulators tasks tests \
    && pip install --no-cache-dir -c constraints.txt . \
    && pip uninstall -y conveyor
COPY . .
RUN pip install --no-cache-dir --no-deps -c constraints.txt .

# Static files into the image (whitenoise serves them), with throw-away build-time values:
# the real secrets come from the environment when a container starts.
RUN DJANGO_SECRET_KEY=build DJANGO_ALLOWED_HOSTS=build REDIS_URL=redis://build:6379/0 \
    DATABASE_URL=postgres://build@build/build DARAJA_CONSUMER_KEY=build \
    DARAJA_CONSUMER_SECRET=build DARAJA_PASSKEY=build DARAJA_CALLBACK_TOKEN=build \
    DARAJA_CALLBACK_BASE_URL=https://build \
    FIELD_ENCRYPTION_KEYS=$(python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())") \
    python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --home /app conveyor && mkdir -p /app/var && chown conveyor /app/var
USER conveyor
EXPOSE 8000 5555
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--threads", "4"]
