"""The Python SDK for the sanacloud API, and the user commands of `sanacloud` built on it."""
