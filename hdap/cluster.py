"""Clustering devices by hardware response (HDAP's first step), scikit-learn style.

Features are standardised, then K-means (MiniBatchKMeans above ``minibatch_above`` devices, so a
million devices cluster in seconds). With ``n_clusters="auto"`` K is the one of 2..``k_max`` with
the best silhouette score on a seeded subsample of at most ``sample`` devices (silhouette is
quadratic in the sample). Each cluster keeps its ``representatives`` devices nearest the centroid
(the ones profiled for its surrogate) and its weight, its share of the fleet.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import KMeans, MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin, silhouette_score
from sklearn.preprocessing import StandardScaler

from testbed.errors import InputError

__all__ = ["FleetClustering"]


class FleetClustering:
    def __init__(self, n_clusters: int | str = "auto", k_max: int = 8, representatives: int = 3,
                 sample: int = 5_000, minibatch_above: int = 50_000, random_state: int = 0):
        self.n_clusters = n_clusters
        self.k_max = k_max
        self.representatives = representatives
        self.sample = sample
        self.minibatch_above = minibatch_above
        self.random_state = random_state

    def _kmeans(self, k: int, n: int):
        if n > self.minibatch_above:
            return MiniBatchKMeans(k, random_state=self.random_state, n_init=3, batch_size=4096)
        return KMeans(k, random_state=self.random_state, n_init=4)

    def fit(self, features: np.ndarray) -> "FleetClustering":
        self.scaler_ = StandardScaler().fit(np.asarray(features, dtype=np.float64))
        x = self.scaler_.transform(np.asarray(features, dtype=np.float64))
        n = len(x)
        if self.n_clusters == "auto":
            rng = np.random.default_rng(self.random_state)
            sub = x[rng.choice(n, min(n, self.sample), replace=False)]
            ks = range(2, min(self.k_max, len(sub) - 1) + 1)
            self.k_scores_ = {k: float(silhouette_score(sub, KMeans(k, random_state=self.random_state, n_init=4)
                                                       .fit_predict(sub))) for k in ks}
            k = max(self.k_scores_, key=self.k_scores_.get)
        else:
            k = int(self.n_clusters)
            if not 1 <= k <= n:
                raise InputError(f"n_clusters must be between 1 and the number of devices ({n}), got {k}")
            self.k_scores_ = {}
        km = self.kmeans_ = self._kmeans(k, n).fit(x)
        self.labels_ = km.labels_.astype(np.int32)
        self.cluster_centers_ = km.cluster_centers_
        self.n_clusters_ = k
        self.weights_ = np.bincount(self.labels_, minlength=k) / n
        dist = np.linalg.norm(x - km.cluster_centers_[self.labels_], axis=1)
        self.representatives_ = []
        for c in range(k):
            members = np.flatnonzero(self.labels_ == c)
            take = min(self.representatives, len(members))
            self.representatives_.append(members[np.argsort(dist[members], kind="stable")[:take]])
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        """The nearest of the fitted clusters for each row of ``features`` (scaled as in ``fit``):
        how devices measured later fall into the clusters of the day they were fitted."""
        x = self.scaler_.transform(np.asarray(features, dtype=np.float64))
        return pairwise_distances_argmin(x, self.cluster_centers_).astype(np.int32)
