#pragma once
// A misbehaving HTTP server for the few registry behaviours a real registry cannot show (a blob
// larger than its descriptor, a redirect to another host, a 503 forever). It listens on
// 127.0.0.1 on a free port, answers one connection at a time with `Connection: close`, and
// records every request with its arrival time. Every wait is bounded; nothing sleeps.
//
//   fgtest::FakeHttpServer srv([](const fgtest::HttpRequest& r) { return fgtest::HttpReply{404}; });
//   srv.host();  // "127.0.0.1:PORT"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace fgtest {

struct HttpRequest {
  std::string method;
  std::string target;                         ///< path and query
  std::map<std::string, std::string> headers;  ///< lower-case names
  std::chrono::steady_clock::time_point arrived;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  uint64_t filler = 0;  ///< bytes of 'x' streamed after `body` (announced in Content-Length)
};

class FakeHttpServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("bind/listen on 127.0.0.1");
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }

  ~FakeHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  [[nodiscard]] int port() const { return port_; }
  [[nodiscard]] std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<HttpRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  /// Body bytes the client accepted (written to its socket before it closed).
  [[nodiscard]] uint64_t body_bytes_sent() const { return sent_.load(); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;  // wakes every 50 ms to see stop_
      int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      handle(c);
      ::close(c);
    }
  }

  /// Reads until `pred` holds on `buf` or 5 s pass; false on timeout or close.
  template <class Pred>
  static bool read_until(int c, std::string& buf, Pred pred) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    char tmp[65536];
    while (!pred(buf)) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      pollfd p{c, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
      if (n <= 0) return false;
      buf.append(tmp, static_cast<size_t>(n));
    }
    return true;
  }

  bool send_all(int c, const char* data, size_t n) {
    while (n > 0) {
      pollfd p{c, POLLOUT, 0};
      if (::poll(&p, 1, 5000) <= 0) return false;
      ssize_t w = ::send(c, data, n, MSG_NOSIGNAL);
      if (w <= 0) return false;
      data += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  void handle(int c) {
    std::string buf;
    if (!read_until(c, buf, [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; })) return;
    HttpRequest req;
    req.arrived = std::chrono::steady_clock::now();
    size_t head_end = buf.find("\r\n\r\n");
    std::string head = buf.substr(0, head_end);
    size_t line_end = head.find("\r\n");
    std::string first = head.substr(0, line_end);
    size_t sp1 = first.find(' '), sp2 = first.rfind(' ');
    req.method = first.substr(0, sp1);
    req.target = first.substr(sp1 + 1, sp2 - sp1 - 1);
    for (size_t pos = line_end; pos != std::string::npos && pos < head.size();) {
      size_t next = head.find("\r\n", pos + 2);
      std::string line = head.substr(pos + 2, next == std::string::npos ? std::string::npos : next - pos - 2);
      auto colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(value.begin());
        req.headers[name] = value;
      }
      pos = next;
    }
    size_t body_len = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
    size_t have = buf.size() - head_end - 4;
    if (have < body_len)
      read_until(c, buf, [&](const std::string& b) { return b.size() - head_end - 4 >= body_len; });
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(req);
    }
    HttpReply reply = handler_(req);
    std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " X\r\nConnection: close\r\n";
    for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
    out += "Content-Length: " + std::to_string(reply.body.size() + reply.filler) + "\r\n\r\n";
    if (!send_all(c, out.data(), out.size())) return;
    if (req.method == "HEAD") return;
    if (!send_all(c, reply.body.data(), reply.body.size())) return;
    sent_ += reply.body.size();
    std::string chunk(65536, 'x');
    for (uint64_t left = reply.filler; left > 0;) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
      if (!send_all(c, chunk.data(), n)) return;
      sent_ += n;
      left -= n;
    }
  }

  Handler handler_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<HttpRequest> requests_;
  std::atomic<uint64_t> sent_{0};
};

}  // namespace fgtest
