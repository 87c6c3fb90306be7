"""The capstone (module 20): optimize a trained model end to end and submit measured numbers.

- ``submission.py``: ``BenchmarkReport`` measures a model (real bytes, accuracy, latency,
  throughput); ``generate_submission``, ``validate_submission``, ``save_submission`` and
  ``SubmissionHarness`` turn measurements into a checked JSON submission.

``tinytorch.olympics`` is the course's other name for this package.
"""

from __future__ import annotations

from tinytorch.capstone.submission import (
    SUBMISSION_SCHEMA,
    BenchmarkReport,
    SubmissionError,
    SubmissionHarness,
    generate_submission,
    save_submission,
    validate_submission,
)

__all__ = ["SUBMISSION_SCHEMA", "BenchmarkReport", "SubmissionError", "SubmissionHarness",
           "generate_submission", "save_submission", "validate_submission"]
