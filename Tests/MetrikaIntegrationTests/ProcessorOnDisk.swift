import Foundation
import MetrikaDomain
import MetrikaGateway
import MetrikaStore

/// A message processor with the default configuration over a real SQLite file in a fresh temporary
/// directory, without a broker; the directory goes when the value does.
final class ProcessorOnDisk {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("metrika-processor-\(UUID().uuidString)")
    let store: GatewayStore
    let processor: MessageProcessor

    init() throws {
        store = try GatewayStore(path: directory.appendingPathComponent("db.sqlite").path)
        let configuration = GatewayConfiguration()
        let desk = TicketDesk(catalog: try CatalogLoader.load(path: nil), plan: configuration.numberingPlan, zone: configuration.timeZone)
        processor = MessageProcessor(store: store, desk: desk, limits: configuration.limits, topology: Topology(configuration),
                                     logger: Logger(level: .error) { _ in })
    }

    deinit {
        store.close()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The first column of the first row of `sql`, an integer (-1 when there is no row).
    func count(_ sql: String) throws -> Int64 {
        try store.connection.query(sql) { $0.int(0) }.first ?? -1
    }
}
