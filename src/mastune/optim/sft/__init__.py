"""SFT on collaboration traces: trace data (generate, filter, export) and LoRA training."""
from .train import (IGNORE, SFTConfig, SFTResult, collate, encode, merge_adapter, question_batches, read_chats,
                    train_sft)

__all__ = ["IGNORE", "SFTConfig", "SFTResult", "collate", "encode", "merge_adapter", "question_batches",
           "read_chats", "train_sft"]
