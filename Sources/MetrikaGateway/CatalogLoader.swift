import Foundation
import MetrikaDomain

/// Loads the catalog from a file, or the built-in one shipped with the gateway.
public enum CatalogLoader {
    /// Reads and checks the catalog at `path`, or the built-in catalog when `path` is nil.
    public static func load(path: String?) throws(ConfigurationError) -> Catalog {
        let data: Data
        let origin: String
        if let path {
            origin = path
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw ConfigurationError("METRIKA_CATALOG '\(path)' cannot be read")
            }
            data = contents
        } else {
            origin = "the built-in catalog"
            guard let url = Bundle.module.url(forResource: "catalog", withExtension: "json"),
                  let contents = try? Data(contentsOf: url) else {
                throw ConfigurationError("the built-in catalog is missing next to the executable (metrika_MetrikaGateway.resources); set METRIKA_CATALOG")
            }
            data = contents
        }
        do {
            return try Catalog(JSONDecoder().decode(Catalog.File.self, from: data))
        } catch let error as CatalogError {
            throw ConfigurationError("\(origin): \(error)")
        } catch {
            throw ConfigurationError("\(origin) is not a catalog file: \(error)")
        }
    }
}
