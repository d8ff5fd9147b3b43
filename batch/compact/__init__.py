"""Compaction: raw events (embedded log, stream outputs, Firehose JSON Lines) into the lake."""
