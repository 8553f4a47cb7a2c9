# ticketmx: multi-stage build of a static binary, run as a non-root user.
#
#   docker build -t ticketmx .
#   docker run -d --name ticketmx -p 25:2525 \
#     -v ticketmx-data:/var/lib/ticketmx \
#     -v /etc/ticketmx/ticketmx.yaml:/etc/ticketmx/ticketmx.yaml:ro \
#     ticketmx
#
# Volumes: /var/lib/ticketmx holds the store (tickets.db) and the admin
# socket (admin.sock); mount the config read-only at
# /etc/ticketmx/ticketmx.yaml. The container listens on 2525 (no root
# needed); publish it as port 25 on the host. Operator commands run inside
# the container: docker exec ticketmx ticketmx ctl tickets list
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o /out/ticketmx ./cmd/ticketmx

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ticketmx /usr/local/bin/ticketmx
ENV TICKETMX_SMTP_LISTEN=0.0.0.0:2525 \
    TICKETMX_STORE_PATH=/var/lib/ticketmx/tickets.db \
    TICKETMX_ADMIN_SOCKET=/var/lib/ticketmx/admin.sock \
    TICKETMX_METRICS_LISTEN=0.0.0.0:9325
USER nonroot:nonroot
VOLUME ["/var/lib/ticketmx"]
EXPOSE 2525 9325
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/ticketmx", "ctl", "stats"]
ENTRYPOINT ["/usr/local/bin/ticketmx"]
CMD ["serve", "--config", "/etc/ticketmx/ticketmx.yaml"]
