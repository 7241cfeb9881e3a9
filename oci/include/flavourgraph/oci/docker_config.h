#pragma once
/// Registry credentials from the Docker config, as docker and skopeo read them.

#include <optional>
#include <string>
#include <string_view>

namespace flavourgraph::oci {

struct Credentials {
  std::string username;
  std::string password;
};

/// Credentials for `host` from $DOCKER_CONFIG/config.json or ~/.docker/config.json, as docker
/// reads them: the host's `credHelpers` entry, else `credsStore` (each runs
/// `docker-credential-<name> get`), else `auths` (base64 "auth", or "username"/"password").
/// nullopt when there are none; throws Error when a helper cannot be run.
std::optional<Credentials> docker_credentials(const std::string& host, const char* docker_config_env,
                                              const char* home_env);

std::string base64(std::string_view in);
/// Standard or URL-safe alphabet, padding optional; nullopt on other characters.
std::optional<std::string> unbase64(std::string_view in);

}  // namespace flavourgraph::oci
