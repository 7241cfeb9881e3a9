#include "flavourgraph/values.h"

#include <fmt/format.h>

#include <algorithm>
#include <stdexcept>

#include "flavourgraph/fs_util.h"
#include "flavourgraph/process.h"
#include "flavourgraph/pyyaml.h"

namespace flavourgraph {

std::string strip_registry(const std::string& registry, const std::string& fqin) {
  std::string prefix = registry + "/";
  if (fqin.rfind(prefix, 0) == 0) return fqin.substr(prefix.size());
  return fqin;
}

std::string values_content(const std::string& registry, const std::string& mw_image, const std::string& web_image,
                           const std::optional<MetaValue>& php_version) {
  pyyaml::Tree t;
  t.child("docker").set("registry", registry);
  t.child("main_app").set("image", strip_registry(registry, mw_image));
  t.child("mw").child("httpd").set("image_tag", strip_registry(registry, web_image));
  if (php_version) {
    auto plain = php_version->json_literal ? pyyaml::plain_of_json(php_version->text) : std::nullopt;
    if (plain)
      t.child("php").set("version", *plain);
    else
      t.child("php").set("version", php_version->text);
  }
  return pyyaml::dump(t);
}

std::string values_commit_message(const std::string& fq_release_name, const std::string& mw_image_stripped,
                                  const std::string& web_image_stripped) {
  return fmt::format("Updating release '{}'\n\nMediaWiki image is: '{}'\nWebserver image is: '{}'", fq_release_name,
                     mw_image_stripped, web_image_stripped);
}

ValuesDir::ValuesDir(std::filesystem::path dir, bool git) : dir_(std::move(dir)) {
  std::filesystem::create_directories(dir_);
  if (!git) return;
  auto r = run_process({"git", "-C", dir_.string(), "rev-parse", "--is-inside-work-tree"});
  git_ = r.status == 0 && r.out.rfind("true", 0) == 0;
}

bool ValuesDir::write(const std::string& file_name, const std::string& content) const {
  auto path = dir_ / file_name;
  if (file_has_content(path, content)) return false;
  write_file_atomic(path, content);
  return true;
}

bool ValuesDir::commit(const std::string& file_name, const std::string& message) const {
  if (!git_) return false;
  auto status = run_process({"git", "-C", dir_.string(), "status", "--porcelain", "--", file_name});
  if (status.status != 0)
    throw std::runtime_error(fmt::format("git status in {} failed: {}", dir_.string(), status.err));
  bool changed = false;
  for (size_t pos = 0; pos < status.out.size();) {
    size_t nl = status.out.find('\n', pos);
    std::string line = status.out.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    if (line.size() >= 2 && (line[1] == 'M' || line.rfind("??", 0) == 0 || line[0] == 'M' || line[0] == 'A'))
      changed = true;
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (!changed) return false;
  auto add = run_process({"git", "-C", dir_.string(), "add", "--", file_name});
  if (add.status != 0) throw std::runtime_error(fmt::format("git add {} failed: {}", file_name, add.err));
  auto commit = run_process({"git", "-C", dir_.string(), "commit", "-q", "-m", message, "--", file_name});
  if (commit.status != 0)
    throw std::runtime_error(fmt::format("git commit of {} in {} failed: {}{}", file_name, dir_.string(), commit.err,
                                         commit.out));
  return true;
}

std::vector<std::string> ValuesDir::yaml_files() const {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir_, ec)) {
    auto name = e.path().filename().string();
    if (e.is_regular_file() && name.size() > 5 && name.ends_with(".yaml") && name[0] != '.') out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

void ValuesDir::remove(const std::string& file_name) const {
  if (git_) {
    auto tracked = run_process({"git", "-C", dir_.string(), "ls-files", "--error-unmatch", "--", file_name});
    if (tracked.status == 0) {
      auto rm = run_process({"git", "-C", dir_.string(), "rm", "-q", "--", file_name});
      if (rm.status != 0) throw std::runtime_error(fmt::format("git rm {} failed: {}", file_name, rm.err));
      auto c = run_process({"git", "-C", dir_.string(), "commit", "-q", "-m",
                            fmt::format("Removing release values '{}'", file_name), "--", file_name});
      if (c.status != 0) throw std::runtime_error(fmt::format("git commit of {} failed: {}", file_name, c.err));
      return;
    }
  }
  std::filesystem::remove(dir_ / file_name);
}

}  // namespace flavourgraph
