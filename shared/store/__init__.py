"""Table, queue and blob storage for findings, the meeting log and the pipeline's state.

One small store per table over azure-data-tables; Azurite locally and in tests, a managed identity in Azure.
Every query is parameterised; every write is an idempotent upsert or an ETag-guarded update.
"""
