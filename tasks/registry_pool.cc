#include "flavourgraph/tasks/registry_pool.h"

#include <algorithm>

namespace flavourgraph {

RegistryPool::RegistryPool(RegistrySettings settings, const CancelSource& cancel)
    : settings_(std::move(settings)), cancel_(cancel) {}

RegistryPool::RegistryPool(RegistrySettings settings, const CancelSource& cancel, oci::HttpTransport& transport)
    : settings_(std::move(settings)), cancel_(cancel), transport_(&transport) {}

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
        oci::docker_credentials(hub ? "index.docker.io" : host, settings_.docker_config.c_str(), settings_.home.c_str());
    o.retry = settings_.retry;
    o.retry.attempts = settings_.retries;
    auto c = transport_ ? std::make_unique<oci::RegistryClient>(o, *transport_, cancel_)
                        : std::make_unique<oci::RegistryClient>(o, cancel_);
    it = clients_.emplace(host, std::move(c)).first;
  }
  return *it->second;
}

}  // namespace flavourgraph
