"""Trainer: parallel QA data, hybrid batch samplers, contrastive loss, training loop, LAReQA evaluation.

Never imports Qt; the app drives it through progress callbacks and a cancel flag.
"""
