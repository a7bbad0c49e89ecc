"""Adapters: the only modules that talk to AWS. Each owns its boto3 client and translates errors."""
