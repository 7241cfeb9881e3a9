#include "registry_pool.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>

namespace flavourgraph {

RegistryPool::RegistryPool(RegistrySettings settings, const CancelSource& cancel)
    : settings_(std::move(settings)), cancel_(cancel) {}

bool RegistryPool::insecure(const std::string& host) const {
  return std::find(settings_.insecure.begin(), settings_.insecure.end(), host) != settings_.insecure.end();
}

oci::RegistryClient& RegistryPool::client(const std::string& host) {
  std::lock_guard lock(mutex_);
  auto it = clients_.find(host);
  if (it == clients_.end()) {
    oci::RegistryOptions o;
    // Docker Hub: references say docker.io; its API and its credentials live elsewhere.
    bool hub = host == "docker.io";
    o.host = hub ? "registry-1.docker.io" : host;
    o.plain_http = insecure(host);
    o.insecure_hosts = settings_.insecure;
    o.curl.ca_bundle = settings_.ca_bundle;
    o.credentials =
        oci::docker_credentials(hub ? "index.docker.io" : host, std::getenv("DOCKER_CONFIG"), std::getenv("HOME"));
    o.retry = settings_.retry;
    o.retry.attempts = settings_.retries;
    it = clients_.emplace(host, std::make_unique<oci::RegistryClient>(o, cancel_)).first;
  }
  return *it->second;
}

std::vector<std::string> RegistryPool::begin_blob(const std::string& host, const std::string& digest) {
  std::unique_lock lock(mutex_);
  auto& st = blobs_[host + " " + digest];
  // Bounded: the wait ends when the uploader finishes (its requests time out) or on cancel.
  while (st.busy && !cancel_.requested()) cv_.wait_for(lock, std::chrono::milliseconds(200));
  st.busy = true;
  return st.repos;
}

void RegistryPool::finish_blob(const std::string& host, const std::string& digest, const std::string& repo) {
  {
    std::lock_guard lock(mutex_);
    auto& st = blobs_[host + " " + digest];
    st.busy = false;
    if (!repo.empty() && std::find(st.repos.begin(), st.repos.end(), repo) == st.repos.end()) st.repos.push_back(repo);
  }
  cv_.notify_all();
}

}  // namespace flavourgraph
