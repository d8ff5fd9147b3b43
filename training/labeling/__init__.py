"""Opt-in labeling of a site's own face crops: the crop store, Rekognition labels, the review list.

Nothing here imports torch: labeling runs on a site's box or a laptop without the training extra.
"""
