FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY tracker ./tracker
COPY workers ./workers
COPY migrations ./migrations
RUN pip install --no-cache-dir -e . && useradd --system tracker
USER tracker
CMD ["tracker", "run"]
