# One image for every Python service: api, workers, beat, flower, migrate.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TRIOPS_HOME=/var/lib/triops

RUN useradd --create-home --uid 10001 triops \
    && mkdir -p /var/lib/triops && chown triops /var/lib/triops

WORKDIR /app
COPY pyproject.toml README.md ./
COPY api ./api
COPY core ./core
COPY domain ./domain
COPY tasks ./tasks
COPY workers ./workers
COPY migrations ./migrations
COPY bench ./bench
RUN pip install .

USER triops
EXPOSE 8000 5555
ENTRYPOINT ["triops"]
CMD ["api", "--host", "0.0.0.0"]
