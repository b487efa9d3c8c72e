import AlertGateCore
import AlertGateListeners
import AlertGatePKI
import AlertGateSpool
import Foundation
import Metrics

/// The admin API's view of the running gateway (docs/reference.md §9): status from the state in use,
/// the links' health and the forwarding counters; reloads through the reloader.
struct GatewayAdmin: AdminBackend {
    let reloader: GatewayReloader
    let pool: LinkPool
    let counters: ForwardingCounters
    let listeners: ListenerSet
    let spool: Spool
    var metrics: any MetricsFactory = MetricsSystem.factory

    /// Every listener bound, and every certificate the gateway needs valid.
    func isReady() async -> Bool {
        let config = await reloader.config
        let store = await reloader.store
        let required = Set(config.appliances.compactMap(\.certificate) + config.listeners.compactMap(\.certificate))
        let certificatesValid = store.items.allSatisfy { !required.contains($0.name) || $0.isValid }
        return listeners.listening.count == config.listeners.count && certificatesValid
    }

    func reload() async -> ReloadReport {
        await reloader.reload(reason: "POST /v1/reload")
    }

    func status() async -> GatewayStatus {
        let config = await reloader.config
        let store = await reloader.store
        let health = await pool.health
        let certificates = store.items.map { item in
            let failure = item.firstFailure
            return GatewayStatus.Certificate(
                name: item.name,
                cn: item.certificate?.commonName ?? "",
                notAfter: item.certificate.map { RFC3339.string(from: $0.notAfter) } ?? "",
                state: item.isValid ? .valid : .invalid,
                code: failure?.code.rawValue,
                message: failure?.problem?.message)
        }
        let appliances = config.appliances.map {
            GatewayStatus.Appliance(name: $0.name, kind: $0.kind.rawValue, certificate: $0.certificate, validation: $0.validation.rawValue)
        }
        let queued = await queuedByPartner()
        let partners = config.partners.map { partner in
            let links = health.filter { $0.key.partner == partner.name }.sorted { $0.key.appliance < $1.key.appliance }
            let connections = links.map { GatewayStatus.Connection(appliance: $0.key.appliance, state: Self.state($0.value)) }
            let failing = links.first { $0.value.state == .failing }?.value.lastError
            let state: GatewayStatus.LinkState =
                connections.contains { $0.state == .failing } ? .failing : connections.contains { $0.state == .connected } ? .connected : .connecting
            return GatewayStatus.Partner(
                name: partner.name, transport: partner.transport, state: state,
                lastError: failing.map { GatewayStatus.Problem(code: $0.check ?? "unavailable", message: $0.message) },
                queued: queued[partner.name, default: 0], delivered: counters.delivered(partner: partner.name),
                connections: connections)
        }
        return GatewayStatus(
            certificates: certificates, appliances: appliances, partners: partners,
            lastReload: await reloader.lastReload.map(GatewayStatus.LastReload.init))
    }

    /// `alertgate_spool_depth{partner}`: the same count as status's `queued`, read from
    /// the spool at each scrape (0 for a configured partner with nothing queued); and the
    /// spool's bytes beside its quota, for an alert before it fills.
    func updateMetrics() async {
        Gauge(label: "alertgate_spool_used_bytes", factory: metrics).record(spool.budget.usedBytes)
        Gauge(label: "alertgate_spool_quota_bytes", factory: metrics).record(spool.budget.quota)
        let config = await reloader.config
        var depths = await queuedByPartner()
        for partner in config.partners where depths[partner.name] == nil {
            depths[partner.name] = 0
        }
        for (partner, depth) in depths {
            Gauge(label: "alertgate_spool_depth", dimensions: [("partner", partner)], factory: metrics).record(depth)
        }
    }

    /// Alerts waiting in the spool, per partner (every queue on disk, of any appliance).
    private func queuedByPartner() async -> [String: Int] {
        var queued: [String: Int] = [:]
        for key in spool.keys {
            queued[key.partner, default: 0] += (try? await spool.queue(for: key).depth) ?? 0
        }
        return queued
    }

    private static func state(_ health: LinkHealth) -> GatewayStatus.LinkState {
        switch health.state {
        case .idle: .connecting
        case .connected: .connected
        case .failing: .failing
        }
    }
}
